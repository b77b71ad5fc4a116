"""The web page's security: the owner account, the setup code, sessions, guards, rate limits, hosts and headers.

Handlers of the other web packages use the guards from here:
- `owner_required`: a logged-in owner (401 for the API, a redirect to /entrar for pages; 403 before an owner exists);
- `recent_password_required`: the password re-entered within 5 minutes (403 with `"reauth": true` otherwise);
- `current_owner(request)`: who is logged in (for change logs).
"""

from papo.web.security.guards import current_owner, owner_required, recent_password_required

__all__ = ["current_owner", "owner_required", "recent_password_required"]
