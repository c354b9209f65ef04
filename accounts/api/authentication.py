from django.utils import timezone
from knox.auth import TokenAuthentication
from knox.signals import token_expired
from rest_framework.exceptions import AuthenticationFailed


class BearerTokenAuthentication(TokenAuthentication):
    """knox's hashed, revocable tokens, sent as `Authorization: Bearer <token>`.

    A token that is not even text is refused like any other wrong token, never with a 500.
    """

    def authenticate_credentials(self, token: bytes):
        try:
            token.decode("utf-8")
        except UnicodeDecodeError as error:
            raise AuthenticationFailed("Invalid token.") from error
        return super().authenticate_credentials(token)

    def _cleanup_token(self, auth_token) -> bool:
        """Refuse (and delete) this token if it has expired; True if it has.

        knox also reads every other token of the user here to delete the expired ones, a second
        query on every request: `accounts.tasks.expired_tokens_purge` does that hourly instead.
        """
        if auth_token.expiry is None or auth_token.expiry >= timezone.now():
            return False
        username = auth_token.user.get_username()
        auth_token.delete()
        token_expired.send(sender=self.__class__, username=username, source="auth_token")
        return True
