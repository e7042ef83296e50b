"""FastAPI dependencies: hand the app's services to routes."""

from __future__ import annotations

from fastapi import Request

from app.config import Settings
from app.db import Database
from app.plugins import PluginRegistry
from app.services.embeddings.service import EmbeddingService
from app.services.jobs import JobManager


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_jobs(request: Request) -> JobManager:
    return request.app.state.jobs


def get_plugins(request: Request) -> PluginRegistry:
    return request.app.state.plugins


def get_embeddings(request: Request) -> EmbeddingService:
    return request.app.state.embeddings
