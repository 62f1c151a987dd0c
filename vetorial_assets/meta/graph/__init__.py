"""Meta's Graph API client: the facebook-business SDK with retries, throttling and token
redaction (client.py), its error classification (errors.py) and the insights reader (insights.py).
resources/meta.py wraps it as the `meta` resource."""
