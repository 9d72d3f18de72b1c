"""Extensions created unbound; create_app binds them."""

from flask_login import LoginManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy

from .models.base import Base

# The models derive from Base itself (typed); db.Model is Flask-SQLAlchemy's copy of it over the same
# registry and metadata, so db.metadata, db.create_all and the migrations see every table.
db = SQLAlchemy(model_class=Base)
socketio = SocketIO()
login_manager = LoginManager()
migrate = Migrate()
