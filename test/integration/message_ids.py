"""The journal MESSAGE_IDs pinpostd(8) promises operators: the tests read them from the man
page, the contract, rather than from the program."""

import os
import re

MAN_PAGE = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "man", "man8",
                        "pinpostd.8")


def man_page_message_ids():
    """{event name as the man page's table gives it: "start", "reload ok", …: MESSAGE_ID}."""
    with open(MAN_PAGE) as f:
        text = f.read()
    table = text[text.index(".TS"):text.index(".TE")]
    return {name: mid for name, mid in re.findall(r"^([a-z ]+)\t([0-9a-f]{32})$", table, re.M)}
