// A loopback stand-in for Amazon MSK's IAM authentication, for the test broker only:
// accepts an OAUTHBEARER token when it is an MSK IAM token in form (a base64url SigV4
// presigned kafka-cluster:Connect URL) and still fresh, and appends the access key id it
// was signed with to the file named by the JAAS option logFile ("ACCEPT <key id>" or
// "REJECT <key id> <why>", one line per authentication or re-authentication). The
// session it grants lasts until the token expires, as on MSK: with
// connections.max.reauth.ms set, the broker ends it then unless the client
// re-authenticates. It cannot check the
// signature itself: that needs the secret key, which only AWS holds.
package pinpostd.test;

import java.io.FileWriter;
import java.io.IOException;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerExtensionsValidatorCallback;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerToken;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallback;

public class MskIamTokenValidator implements AuthenticateCallbackHandler {
    private String logFile;

    @Override
    public void configure(Map<String, ?> configs, String mechanism, List<AppConfigurationEntry> jaas) {
        for (AppConfigurationEntry e : jaas) {
            Object f = e.getOptions().get("logFile");
            if (f != null) logFile = f.toString();
        }
    }

    @Override
    public void close() {}

    @Override
    public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
        for (Callback cb : callbacks) {
            if (cb instanceof OAuthBearerValidatorCallback) {
                validate((OAuthBearerValidatorCallback) cb);
            } else if (cb instanceof OAuthBearerExtensionsValidatorCallback) {
                OAuthBearerExtensionsValidatorCallback x = (OAuthBearerExtensionsValidatorCallback) cb;
                x.inputExtensions().map().keySet().forEach(x::valid);
            } else {
                throw new UnsupportedCallbackException(cb);
            }
        }
    }

    private void validate(OAuthBearerValidatorCallback cb) {
        String reason = null;
        Map<String, String> q = new HashMap<>();
        long expiresMs = 0;
        try {
            String url = new String(Base64.getUrlDecoder().decode(cb.tokenValue()), StandardCharsets.UTF_8);
            URI uri = new URI(url);
            for (String kv : uri.getRawQuery().split("&")) {
                int eq = kv.indexOf('=');
                q.put(kv.substring(0, eq), URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8));
            }
            String host = uri.getHost();
            if (!"https".equals(uri.getScheme()) || host == null
                    || !host.matches("kafka\\.[a-z0-9-]+\\.amazonaws\\.com"))
                reason = "not an MSK endpoint: " + host;
            else if (!"kafka-cluster:Connect".equals(q.get("Action")))
                reason = "Action is not kafka-cluster:Connect";
            else if (!"AWS4-HMAC-SHA256".equals(q.get("X-Amz-Algorithm")))
                reason = "not SigV4";
            else if (!"host".equals(q.get("X-Amz-SignedHeaders")))
                reason = "signed headers are not host";
            else if (q.get("X-Amz-Signature") == null || q.get("X-Amz-Signature").length() != 64)
                reason = "no signature";
            else if (q.get("X-Amz-Credential") == null
                    || !q.get("X-Amz-Credential").endsWith("/kafka-cluster/aws4_request"))
                reason = "credential scope is not kafka-cluster";
            else {
                long expires = Long.parseLong(q.get("X-Amz-Expires"));
                LocalDateTime date = LocalDateTime.parse(q.get("X-Amz-Date"),
                        DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'"));
                expiresMs = (date.toEpochSecond(ZoneOffset.UTC) + expires) * 1000;
                if (expires > 900) reason = "X-Amz-Expires above 900";
                else if (expiresMs < System.currentTimeMillis()) reason = "token expired";
            }
        } catch (Exception e) {
            reason = "malformed token: " + e;
        }
        String akid = q.getOrDefault("X-Amz-Credential", "?").split("/")[0];
        log((reason == null ? "ACCEPT " : "REJECT ") + akid + (reason == null ? "" : " " + reason));
        if (reason != null) {
            cb.error("invalid_token", null, null);
            return;
        }
        final long lifetime = expiresMs;
        final String value = cb.tokenValue();
        cb.token(new OAuthBearerToken() {
            public String value() { return value; }
            public Set<String> scope() { return Set.of(); }
            public long lifetimeMs() { return lifetime; }
            // MSK's principal is the IAM identity, which rotated temporary keys keep: a
            // principal made of the access key would change at each refresh, and the broker
            // refuses a re-authentication (KIP-368) that changes the principal.
            public String principalName() { return "msk-iam"; }
            public Long startTimeMs() { return null; }
        });
    }

    private synchronized void log(String line) {
        if (logFile == null) return;
        try (FileWriter w = new FileWriter(logFile, true)) {
            w.write(line + "\n");
        } catch (IOException e) {
            // the test reading the log will notice the missing line
        }
    }
}
