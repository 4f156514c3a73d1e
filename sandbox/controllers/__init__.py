"""Controllers that make the sandbox behave like a cluster: workloads, scheduler, kubelet, endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sandbox.controllers.base import Context, Controller


def build(ctx: Context) -> list[Controller]:
    """Every controller of the sandbox, in the order their first reconciles should run."""
    from sandbox.controllers import (
        cronjob,
        deployment,
        endpoints,
        job,
        kubelet,
        namespace,
        pvc,
        replicaset,
        scheduler,
        statefulset,
    )

    return [
        namespace.NamespaceController(ctx),
        pvc.PersistentVolumeClaimController(ctx),
        deployment.DeploymentController(ctx),
        replicaset.ReplicaSetController(ctx),
        statefulset.StatefulSetController(ctx),
        cronjob.CronJobController(ctx),
        job.JobController(ctx),
        scheduler.Scheduler(ctx),
        kubelet.Kubelet(ctx),
        endpoints.EndpointsController(ctx),
    ]
