"""FastAPI dependencies: hand the app's services to routes, as named types (`db: DbDep`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

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


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DbDep = Annotated[Database, Depends(get_db)]
JobsDep = Annotated[JobManager, Depends(get_jobs)]
PluginsDep = Annotated[PluginRegistry, Depends(get_plugins)]
EmbeddingsDep = Annotated[EmbeddingService, Depends(get_embeddings)]
