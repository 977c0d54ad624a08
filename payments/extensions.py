"""Unbound Flask extensions, bound to an app in ``create_app``."""

from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base of every model."""


#: Loaded objects keep what was just written across a commit: reading them again would cost a
#: SELECT per object on the hot paths (create, webhook), and a request's objects live no longer
#: than the request. Code that must see another process's change refreshes explicitly.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
socketio = SocketIO()
