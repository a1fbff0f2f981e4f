"""Precision guards seen on real history: a line about a name's past, a record-of-the-past
document, and a bare name matching only an instance attribute never become findings."""

from __future__ import annotations

from indexers.staleness.detect import is_record_of_the_past
from tests.unit.staleness.conftest import BILLING_V1, StaleWorld, make_billing_repo

ATTRIBUTE = '''class Invoice:
    def __init__(self):
        self.fixture_request = None
'''


def test_history_lines_records_of_the_past_and_attributes_stay_quiet(stale: StaleWorld, tmp_path) -> None:
    repo = make_billing_repo(tmp_path / "shop")
    repo.write("billing/item.py", ATTRIBUTE)
    repo.write("docs/notes.md", "# Notes\n\n`compute_invoice_total` is deprecated; use the new API.\n")
    repo.write("docs/proposals/helpers.md", "# Proposal\n\nA helper `compute_invoice_total` would return it.\n")
    repo.write("docs/upgrading.md", "# Upgrading\n\nCall `compute_invoice_total` instead of `sum_lines`.\n")
    repo.write("docs/attr.md", "# Attr\n\nA new helper named `fixture_request` would yield.\n")
    repo.commit("docs", "2024-01-11T10:00:00+00:00")
    stale.add("shop", "git", repo.path)
    stale.index("shop")
    repo.write("billing/invoice.py", BILLING_V1.replace("compute_invoice_total", "invoice_total"))
    repo.write("billing/item.py", ATTRIBUTE.replace("fixture_request", "request"))
    repo.commit("renames", "2024-03-01T09:00:00+00:00")
    stale.index("shop")
    assert [f.path for f in stale.findings()] == ["docs/billing.md"]  # only the doc that still claims it


def test_records_of_the_past() -> None:
    assert is_record_of_the_past("doc/en/historical-notes.rst") and is_record_of_the_past("docs/adr/0001-x.md")
    assert is_record_of_the_past("UPGRADING.md") and is_record_of_the_past("doc/proposals/p.rst")
    assert not is_record_of_the_past("docs/billing.md") and not is_record_of_the_past("README.md")


def test_plain_words_and_bare_file_names_need_a_clear_context() -> None:
    from indexers.staleness.doccheck import RefGroup, strong

    def g(kind: str, text: str, **details: object) -> RefGroup:
        return RefGroup(kind, text, [1], "", dict(details))

    assert not strong(g("symbol", "meta", how="directive", directive="data"))  # a template variable
    assert strong(g("symbol", "meta", how="directive", directive="autoclass"))  # pulled from the code
    assert strong(g("symbol", "build", how="code-span", called=True))
    assert strong(g("symbol", "compute_total", how="code-span")) and strong(g("symbol", "Meta", how="code-span"))
    assert not strong(g("path", "setup.py", how="code-span"))  # the reader's own setup.py
    assert strong(g("path", "setup.py", how="link")) and strong(g("path", "src/setup.py", how="code-span"))


UNITS_V1 = '''redshift = 1.0
littleh = 0.7


def with_h0(h0=None):
    return h0
'''
UNITS_SRC = UNITS_V1
UNITS_V2 = '''from pkg._src.units import redshift

__all__ = ["redshift", "with_h0"]


def __getattr__(name):
    from pkg._src import units

    return getattr(units, name)
'''


def test_a_name_moved_to_a_private_module_and_re_exported_is_not_dead(stale: StaleWorld, tmp_path) -> None:
    """astropy moved ``astropy.cosmology.units.redshift`` into ``_src`` and imports it back:
    the doc's public path still works. A name moved without re-export, or removed and
    only left in ``__all__`` (no lazy module ``__getattr__``), stays a finding."""
    from tests.fixtures.gitrepo import GitRepo

    repo = GitRepo(tmp_path / "astro")
    repo.write("pkg/__init__.py", "")
    repo.write("pkg/units.py", UNITS_V1)
    repo.write("pkg/tools.py", "def tool():\n    return 1\n")
    repo.write("docs/units.md", "# Units\n\nUse `pkg.units.redshift`, `pkg.units.with_h0()` and "
                                "`pkg.units.littleh`, and `pkg.tools.tool()`.\n")
    repo.commit("units", "2024-01-10T10:00:00+00:00")
    stale.add("astro", "git", repo.path)
    stale.index("astro")
    assert stale.findings() == []
    repo.write("pkg/_src/__init__.py", "")
    repo.write("pkg/_src/units.py", UNITS_SRC)
    repo.write("pkg/units.py", UNITS_V2)
    repo.write("pkg/tools.py", '__all__ = ["tool"]\n')  # listed, gone, no lazy __getattr__
    repo.commit("move units to _src", "2024-03-01T09:00:00+00:00")
    stale.index("astro")
    assert sorted((f.kind, f.reference) for f in stale.findings()) == [
        ("dead", "pkg.tools.tool"), ("dead", "pkg.units.littleh")]


APP_V1 = '''class Flask:
    def register_blueprint(self, bp):
        return bp

    def shell_context_processor(self, f):
        return f

    def send_static(self):
        return 1
'''
APP_V2 = '''from pkg.base import App


class Flask(App):
    def other(self):
        return 0
'''
BASE_V2 = '''class Scaffold:
    def shell_context_processor(self, f):
        return f


class App(Scaffold):
    def register_blueprint(self, bp):
        return bp
'''


def test_a_method_moved_up_into_a_base_class_is_not_dead(stale: StaleWorld, tmp_path) -> None:
    """flask moved ``Flask.register_blueprint`` into its base ``App``: ``Flask.register_blueprint``
    still works (inherited, two levels deep too). A method removed from the whole hierarchy
    stays a finding."""
    from tests.fixtures.gitrepo import GitRepo

    repo = GitRepo(tmp_path / "web")
    repo.write("pkg/__init__.py", "")
    repo.write("pkg/app.py", APP_V1)
    repo.write("docs/cli.md", "# CLI\n\nCall `Flask.register_blueprint()`, `Flask.shell_context_processor()` "
                              "and `Flask.send_static()`.\n")
    repo.commit("app", "2024-01-10T10:00:00+00:00")
    stale.add("web", "git", repo.path)
    stale.index("web")
    assert stale.findings() == []
    repo.write("pkg/app.py", APP_V2)
    repo.write("pkg/base.py", BASE_V2)
    repo.commit("move methods into the base classes", "2024-03-01T09:00:00+00:00")
    stale.index("web")
    assert [(f.kind, f.reference) for f in stale.findings()] == [("dead", "Flask.send_static")]


STREAMS_V1 = '''def get_binary_stream(name):
    return name


def get_text_stream(name):
    return name
'''
STREAMS_V2 = '''def _get_binary_stream(name):
    return name
'''
INIT_V2 = '''_DEPRECATED = {"get_binary_stream": "_get_binary_stream"}


def __getattr__(name):
    if name in _DEPRECATED:
        from pkg import utils

        return getattr(utils, _DEPRECATED[name])
    raise AttributeError(name)
'''


def test_a_name_kept_by_a_module_getattr_shim_is_not_dead(stale: StaleWorld, tmp_path) -> None:
    """click renamed ``get_binary_stream`` to ``_get_binary_stream`` and kept the old name
    working through ``pkg.__getattr__`` (a deprecation shim): docs naming it are not dead,
    bare or dotted. ``get_text_stream``, removed with no shim, is."""
    from tests.fixtures.gitrepo import GitRepo

    repo = GitRepo(tmp_path / "cli")
    repo.write("pkg/__init__.py", "from pkg.utils import get_binary_stream, get_text_stream\n")
    repo.write("pkg/utils.py", STREAMS_V1)
    repo.write("docs/api.md", "# API\n\n`get_binary_stream()`, `pkg.get_binary_stream()` and "
                              "`get_text_stream()`.\n")
    repo.commit("streams", "2024-01-10T10:00:00+00:00")
    stale.add("cli", "git", repo.path)
    stale.index("cli")
    assert stale.findings() == []
    repo.write("pkg/__init__.py", INIT_V2)
    repo.write("pkg/utils.py", STREAMS_V2)
    repo.commit("deprecate streams", "2024-03-01T09:00:00+00:00")
    stale.index("cli")
    assert [(f.kind, f.reference) for f in stale.findings()] == [("dead", "get_text_stream")]


def test_base_names_and_getattr_shims() -> None:
    from indexers.staleness.python_exports import base_names as _base_names
    from indexers.staleness.python_exports import python_exports as _python_exports

    assert _base_names("(sansio.App, Generic[T, U], metaclass=Meta)") == ["App", "Generic"]
    assert _base_names(None) == [] and _base_names("()") == []
    shim = 'def __getattr__(name):\n    if name == "old":\n        return 1\n    if name in ("a", "b"):\n        return 2\n'
    assert {"old", "a", "b"} <= _python_exports(shim)
    local = ('def __getattr__(name):\n    alts = {"parse_etags": "ETags.from_header"}\n'
             '    if name in alts:\n        return globals()["_" + name]\n')
    assert "parse_etags" in _python_exports(local)  # werkzeug's table inside the function
    # without a module __getattr__, string comparisons elsewhere provide nothing
    assert "old" not in _python_exports('def f(name):\n    return name == "old"\n')


CLI_V1 = '''import os

import click

_app_option = click.Option(["-A", "--app"], help="The application.")


def main():
    app = os.environ.get("SHOP_APP")
    env = os.environ.get("SHOP_ENV")
    return app, env
'''
CLI_V2 = '''import click

_app_option = click.Option(["-A", "--app"], help="The application.")


def main(cli):
    cli.main(auto_envvar_prefix="SHOP")
'''


def test_an_environment_key_click_reads_through_auto_envvar_prefix_is_not_dead(stale: StaleWorld, tmp_path) -> None:
    """flask stopped reading ``FLASK_APP`` itself: click reads it for ``--app`` through
    ``auto_envvar_prefix="FLASK"``. ``SHOP_ENV``, with no ``--env`` option, is dead."""
    from tests.fixtures.gitrepo import GitRepo

    repo = GitRepo(tmp_path / "shop")
    repo.write("shop/__init__.py", "")
    repo.write("shop/cli.py", CLI_V1)
    repo.write("docs/cli.md", "# CLI\n\nSet `SHOP_APP` and `SHOP_ENV` before running.\n")
    repo.commit("cli", "2024-01-10T10:00:00+00:00")
    stale.add("shop", "git", repo.path)
    stale.index("shop")
    assert stale.findings() == []
    repo.write("shop/cli.py", CLI_V2)
    repo.commit("click reads the environment", "2024-03-01T09:00:00+00:00")
    stale.index("shop")
    assert [(f.kind, f.reference) for f in stale.findings()] == [("dead", "SHOP_ENV")]


CORE_V1 = '''class Command:
    def main(self):
        return 0


class MultiCommand(Command):
    def list_commands(self):
        return []
'''
CORE_V2 = '''class Command:
    def main(self):
        return 0


class Group(Command):
    def list_commands(self):
        return []


class _MultiCommand(Group):
    pass


def __getattr__(name):
    if name == "MultiCommand":
        return _MultiCommand
    raise AttributeError(name)
'''


def test_a_deprecated_class_alias_keeps_its_methods_and_a_package_name_is_not_a_variable(
        stale: StaleWorld, tmp_path) -> None:
    """click 8.2 kept ``MultiCommand`` as a ``__getattr__`` alias of ``_MultiCommand(Group)``:
    ``MultiCommand.list_commands`` still works. ``cli`` once matched a variable named like
    the package; once the variable is gone, the package still is ``cli``."""
    from tests.fixtures.gitrepo import GitRepo

    repo = GitRepo(tmp_path / "cli")
    repo.write("cli/__init__.py", "")
    repo.write("cli/core.py", CORE_V1)
    repo.write("cli/compat.py", "cli = None\n")
    repo.write("docs/api.md", "# API\n\n`MultiCommand.list_commands()` and `MultiCommand.main()` in `cli`.\n")
    repo.commit("core", "2024-01-10T10:00:00+00:00")
    stale.add("cli", "git", repo.path)
    stale.index("cli")
    assert stale.findings() == []
    repo.write("cli/core.py", CORE_V2)
    repo.write("cli/compat.py", "pass\n")
    repo.commit("deprecate MultiCommand", "2024-03-01T09:00:00+00:00")
    stale.index("cli")
    assert stale.findings() == []
    repo.write("cli/core.py", CORE_V2.replace("    def list_commands(self):\n        return []\n", "    pass\n"))
    repo.commit("drop list_commands", "2024-04-01T09:00:00+00:00")
    stale.index("cli")
    assert [(f.kind, f.reference) for f in stale.findings()] == [("dead", "MultiCommand.list_commands")]


SIGNALS_V1 = '''class Namespace:
    def signal(self, name):
        return name
'''
CTX_V2 = '''class AppContext:
    pass


def __getattr__(name):
    if name == "RequestContext":
        return AppContext
    raise AttributeError(name)
'''
DECO_V1 = '''import click


def version_option(f):
    return click.option("--version", is_flag=True)(f)
'''
DECO_V2 = '''def version_option(*param_decls):
    if not param_decls:
        param_decls = ("--version",)
    return param_decls
'''


def test_a_module_tail_an_external_import_and_default_option_declarations_are_not_dead(
        stale: StaleWorld, tmp_path) -> None:
    """flask replaced its own ``signals.Namespace`` by ``from blinker import Namespace``
    (its members cannot be checked: not dead), ``ctx.RequestContext`` became a shim (the doc
    names the module by its tail under ``currentmodule``), and click declares
    ``--version`` as ``param_decls = ("--version",)``."""
    from tests.fixtures.gitrepo import GitRepo

    repo = GitRepo(tmp_path / "web")
    repo.write("src/web/__init__.py", "")
    repo.write("src/web/signals.py", SIGNALS_V1)
    repo.write("src/web/ctx.py", "class RequestContext:\n    pass\n")
    repo.write("src/web/decorators.py", DECO_V1)
    repo.write("docs/api.md", "# API\n\n`signals.Namespace.signal()`, `ctx.RequestContext` and `--version`.\n")
    repo.commit("web", "2024-01-10T10:00:00+00:00")
    stale.add("web", "git", repo.path)
    stale.index("web")
    assert stale.findings() == []
    repo.write("src/web/signals.py", "from blinker import Namespace\n\n_signals = Namespace()\n")
    repo.write("src/web/ctx.py", CTX_V2)
    repo.write("src/web/decorators.py", DECO_V2)
    repo.commit("blinker, merged contexts", "2024-03-01T09:00:00+00:00")
    stale.index("web")
    assert stale.findings() == []
    repo.write("src/web/ctx.py", "class AppContext:\n    pass\n")
    repo.commit("drop the shim", "2024-04-01T09:00:00+00:00")
    stale.index("web")
    assert [(f.kind, f.reference) for f in stale.findings()] == [("dead", "ctx.RequestContext")]


BUILDER_V1 = '''class HTMLBuilder:
    def script_files(self):
        return []


DEFAULT_THEME = "alabaster"
'''


def test_a_data_description_names_a_value_not_a_method(stale: StaleWorld, tmp_path) -> None:
    """sphinx's templating docs describe the template variable ``script_files`` with
    ``.. data::``; the builder's deprecated method of that name going away says nothing
    about it. A ``.. data::`` of a module constant that goes away still is a finding."""
    from tests.fixtures.gitrepo import GitRepo

    repo = GitRepo(tmp_path / "docs")
    repo.write("pkg/__init__.py", "")
    repo.write("pkg/builder.py", BUILDER_V1)
    repo.write("docs/templating.rst", "Templating\n==========\n\n.. data:: script_files\n\n   Scripts.\n\n"
                                      ".. data:: DEFAULT_THEME\n\n   The theme.\n")
    repo.commit("docs", "2024-01-10T10:00:00+00:00")
    stale.add("docs", "git", repo.path)
    stale.index("docs")
    assert stale.findings() == []
    repo.write("pkg/builder.py", "class HTMLBuilder:\n    pass\n")
    repo.commit("drop deprecated", "2024-03-01T09:00:00+00:00")
    stale.index("docs")
    assert [(f.kind, f.reference) for f in stale.findings()] == [("dead", "DEFAULT_THEME")]


PLUGIN_V1 = '''import os


class Cache:
    def makedir(self, name):
        return name


def pytest_addoption(parser):
    parser.addini("xfail_strict", "strict xfail", default=False)


def player():
    return os.environ.get("PATH")


def cached_setup():
    return None
'''
PLUGIN_V2 = '''class Cache:
    def mkdir(self, name):
        return name


def pytest_addoption(parser):
    parser.addini("strict_xfail", "strict xfail", default=False, aliases=["xfail_strict"])


def pytest_configure(mp):
    mp.setattr(Cache, "makedir", Cache.mkdir, raising=False)
'''


def test_aliases_plugin_attributes_shell_variables_and_anymore_stay_quiet(stale: StaleWorld, tmp_path) -> None:
    """pytest: ``xfail_strict`` still works as an alias of ``strict_xfail``, ``Cache.makedir``
    is set by a plugin with ``setattr``, ``PATH`` is the shell's, and "does not need to
    call ``cached_setup()`` anymore" claims nothing. Removing the alias is a finding."""
    from tests.fixtures.gitrepo import GitRepo

    repo = GitRepo(tmp_path / "plug")
    repo.write("plug/__init__.py", "")
    repo.write("plug/core.py", PLUGIN_V1)
    repo.write("docs/usage.md", "# Usage\n\nSet the `xfail_strict` ini option, call `Cache.makedir()`, "
                                "put it on your `PATH`.\n\nThis does not need to call `cached_setup()` anymore.\n")
    repo.commit("plugin", "2024-01-10T10:00:00+00:00")
    stale.add("plug", "git", repo.path)
    stale.index("plug")
    assert stale.findings() == []
    repo.write("plug/core.py", PLUGIN_V2)
    repo.commit("renames with aliases", "2024-03-01T09:00:00+00:00")
    stale.index("plug")
    assert stale.findings() == []
    repo.write("plug/core.py", PLUGIN_V2.replace(', aliases=["xfail_strict"]', ""))
    repo.commit("drop the alias", "2024-04-01T09:00:00+00:00")
    stale.index("plug")
    assert [(f.kind, f.reference) for f in stale.findings()] == [("dead", "xfail_strict")]
