"""Flask extensions, created here and bound to the app in create_app."""
from flask_session import Session
from flask_wtf.csrf import CSRFProtect

from models import db

csrf = CSRFProtect()
sess = Session()

__all__ = ["db", "csrf", "sess"]
