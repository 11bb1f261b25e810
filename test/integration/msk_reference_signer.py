"""Fixture script: the MSK IAM token of AWS's reference signer
(aws-msk-iam-sasl-signer-python with botocore) at a frozen time, for comparison with
`pinpostd msk-token --at`. Credentials come from the environment, as for pinpostd.

usage: python msk_reference_signer.py REGION 2015-08-30T12:36:00Z
prints the token and its expiry in ms, one per line."""

import sys

import freezegun
from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

region, when = sys.argv[1], sys.argv[2]
with freezegun.freeze_time(when):
    token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
print(token)
print(expiry_ms)
