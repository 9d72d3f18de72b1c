"""Pages and the health check."""

from flask import Blueprint, current_app, jsonify, render_template
from sqlalchemy import text

from .extensions import db

bp = Blueprint("views", __name__)


@bp.get("/healthz")
def healthz():
    """200 once the database answers, 503 otherwise; names the node that answered (behind nginx)."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        return jsonify({"status": "unavailable"}), 503
    return jsonify({"status": "ok", "node_id": current_app.config["IM_NODE_ID"]})


@bp.get("/")
def index():
    return render_template("index.html")
