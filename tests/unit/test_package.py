"""The public surface, and the promise that importing the package reads nothing about Airflow."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import airflow_trigger_compat


def test_all_matches_public_names() -> None:
    exported = set(airflow_trigger_compat.__all__)
    assert len(exported) == len(airflow_trigger_compat.__all__)
    # Every exported name resolves (the operator needs Airflow, tested below) ...
    for name in exported - {"TriggerDagRunOperator"}:
        assert getattr(airflow_trigger_compat, name) is not None, name
    # ... and every public name the package has is exported.
    public = {n for n in vars(airflow_trigger_compat) if not n.startswith("_")} - {
        "annotations",
        "TYPE_CHECKING",
    }
    assert public <= exported, public - exported
    assert set(dir(airflow_trigger_compat)) >= exported
    # The runtime (what a provider vendors) exports the same, less what only pip users get.
    from airflow_trigger_compat import _runtime

    pip_only = {"DIFFERENCES", "Difference", "ProviderParameterWarning", "TriggerDagRunOperator"}
    registry = {"REGISTRY", "AirflowVersion", "Entry", "Feature", "Selection"}
    registry |= {"airflow_version", "parse_airflow_version"}  # from _runtime._registry
    assert set(_runtime.__all__) == exported - pip_only - registry
    for name in _runtime.__all__:
        assert getattr(_runtime, name) is getattr(airflow_trigger_compat, name), name


def test_version_is_hard_coded() -> None:
    """``__version__`` is a string literal in the runtime's ``__init__.py`` (a vendored copy has no
    distribution metadata to read), and it is the version the distribution is built and installed with."""
    import ast
    from importlib.metadata import version
    from pathlib import Path

    init = Path(airflow_trigger_compat.__file__).parent / "_runtime" / "__init__.py"
    literals = [
        node.value.value
        for node in ast.parse(init.read_text()).body
        if isinstance(node, ast.Assign)
        and [getattr(t, "id", None) for t in node.targets] == ["__version__"]
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]
    assert literals == [airflow_trigger_compat.__version__], "__version__ must be one string literal"
    # pyproject reads the version from that file (hatch's [tool.hatch.version]); the installed metadata
    # is what that build produced: a stale install or a computed version would differ.
    assert version("airflow-trigger-compat") == airflow_trigger_compat.__version__


def test_import_reads_no_airflow() -> None:
    code = textwrap.dedent(
        """
        import sys
        import airflow_trigger_compat
        loaded = sorted(m for m in sys.modules if m == "airflow" or m.startswith("airflow."))
        assert not loaded, loaded
        assert airflow_trigger_compat.airflow_version.cache_info().currsize == 0
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_operator_without_airflow_is_a_clear_error() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["airflow"] = None
        import airflow_trigger_compat
        try:
            airflow_trigger_compat.TriggerDagRunOperator
        except airflow_trigger_compat.UnsupportedAirflowVersion as err:
            assert "execute_trigger" in str(err), err
        else:
            raise AssertionError("no error")
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_attribute_is_attribute_error() -> None:
    try:
        airflow_trigger_compat.nope  # noqa: B018
    except AttributeError as err:
        assert "nope" in str(err)
    else:
        raise AssertionError("no error")


def test_py_typed_and_license_ship() -> None:
    from importlib.resources import files

    assert files(airflow_trigger_compat).joinpath("py.typed").is_file()
