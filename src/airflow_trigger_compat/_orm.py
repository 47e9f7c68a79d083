"""Airflow 2.11's trigger and poll through the ORM, with the signatures of :mod:`._accessor`.

The durable port of the ``airflow2`` strategy calls these (looked up on the module at each call, the seam
tests and the live crash test wrap), as the 3.x ports call ``_accessor``.
"""

from __future__ import annotations

from typing import Any

from ._airflow import load

__all__ = ["already_exists_error", "dagrun_state", "trigger_dag_run"]


def trigger_dag_run(
    ti: Any,
    *,
    dag_id: str,
    run_id: str,
    conf: dict[str, Any] | None,
    logical_date: Any,
    run_after: Any = None,
    note: str | None = None,
    reset_dag_run: bool,
) -> bool:
    """``trigger_dag`` as the standard operator's ``_trigger_dag_af_2`` calls it; ``False`` if it exists.

    With ``reset_dag_run=True`` the existing run is cleared and rerun (as stock), and the answer is
    ``True``. The ``DagRunAlreadyExists`` error is kept on ``ti`` for the port to re-raise, as stock does.
    """
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.models.dag import DagModel
    from airflow.models.serialized_dag import SerializedDagModel

    try:
        trigger_dag(
            dag_id=dag_id,
            run_id=run_id,
            conf=conf,
            execution_date=logical_date,
            replace_microseconds=False,
        )
    except load("DagRunAlreadyExists") as err:
        if not reset_dag_run:
            _LAST_EXISTS[id(ti)] = err
            return False
        dag_run = err.dag_run
        if DagModel.get_current(dag_id) is None:
            raise load("DagNotFound")(f"Dag id {dag_id} not found in DagModel") from err
        SerializedDagModel.get_dag(dag_id).clear(
            start_date=dag_run.logical_date, end_date=dag_run.logical_date
        )
    return True


#: The last ``DagRunAlreadyExists`` per task instance, for :func:`already_exists_error`.
_LAST_EXISTS: dict[int, BaseException] = {}


def already_exists_error(ti: Any) -> BaseException | None:
    """The ``DagRunAlreadyExists`` the last :func:`trigger_dag_run` for ``ti`` answered ``False`` for."""
    return _LAST_EXISTS.pop(id(ti), None)


def dagrun_state(ti: Any, dag_id: str, run_id: str, *, missing_ok: bool = False) -> str | None:
    """The run's state; a missing run raises ``NoResultFound`` (as stock's ``refresh_from_db``)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        query = session.query(DagRun.state).filter(DagRun.dag_id == dag_id, DagRun.run_id == run_id)
        row = query.one_or_none() if missing_ok else query.one()
    if row is None:
        return None
    return str(getattr(row[0], "value", row[0]))
