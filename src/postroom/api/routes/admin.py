"""The job queue's dead letters and the SMTP chaos switches."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlalchemy import select

from postroom.api.deps import JobAdmin, PostroomDep, ServerAdmin
from postroom.api.problems import Problem
from postroom.auth.roles import Role
from postroom.core import jobs
from postroom.core.models import Job

router = APIRouter(prefix="/api/v1", tags=["admin"])


def job_json(job: Any) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "run_at": job.run_at.isoformat(),
        "last_error": job.last_error,
        "result": job.result,
        "payload": job.payload,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


@router.get("/jobs")
async def list_jobs(
    postroom: PostroomDep,
    principal: JobAdmin,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    query = select(Job).where(Job.tenant_id == principal.tenant_id).order_by(Job.id.desc()).limit(limit)
    if status:
        query = query.where(Job.status == status)
    async with postroom.engine.connect() as conn:
        return {"items": [job_json(j) for j in await conn.execute(query)]}


@router.get("/jobs/{job_id}")
async def get_job(postroom: PostroomDep, principal: JobAdmin, job_id: int) -> dict[str, Any]:
    async with postroom.engine.connect() as conn:
        job = (await conn.execute(select(Job).where(Job.id == job_id, Job.tenant_id == principal.tenant_id))).first()
    if job is None:
        raise Problem(404, "no such job")
    return job_json(job)


@router.post("/jobs/{job_id}/requeue")
async def requeue_job(postroom: PostroomDep, principal: JobAdmin, job_id: int) -> dict[str, Any]:
    tenant = None if principal.role == Role.SUPER_ADMIN else principal.tenant_id
    async with postroom.engine.begin() as conn:
        if not await jobs.requeue(conn, job_id, tenant):
            raise Problem(409, "only a dead job of your tenant can be requeued")
    postroom.worker.notify()
    return await get_job(postroom, principal, job_id)


@router.get("/chaos")
async def get_chaos(postroom: PostroomDep, principal: ServerAdmin) -> dict[str, Any]:
    return postroom.chaos.get()


@router.put("/chaos")
async def set_chaos(postroom: PostroomDep, principal: ServerAdmin, triggers: dict[str, Any]) -> dict[str, Any]:
    try:
        postroom.chaos.set(triggers)
    except ValueError as exc:
        raise Problem(422, str(exc)) from exc
    return postroom.chaos.get()


@router.delete("/chaos", status_code=204)
async def clear_chaos(postroom: PostroomDep, principal: ServerAdmin) -> Response:
    postroom.chaos.clear()
    return Response(status_code=204)
