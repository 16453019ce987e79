"""Browser-side authentication: server-side web sessions, sign-in throttling, and the
requests behind npm's web login and web 2FA (loginUrl/authUrl + doneUrl)."""
