"""Which app each module belongs to, and which apps are domain code at all.

Django apps come from `AppConfig` classes and from `INSTALLED_APPS` in settings found in the
tree; a module belongs to the app whose package is its longest prefix. What is not in an app:

- project glue (role `project`): the package holding the settings (its parent when that
  package is called `settings`), and the packages of `ROOT_URLCONF`, `WSGI_APPLICATION`,
  `ASGI_APPLICATION`; a package holding apps (`monolith/__init__.py`) and the plain modules
  directly in it (`monolith/testing.py`); `manage.py`.
  Glue depends on every app by design, so it takes no part in clustering.
- everything else is grouped by package: by the sub-packages of the top-level package when
  the tree has one, else by top-level package.

After edges are known, `mark_support` sets aside support apps (role `support`): an installed
app that no other app depends on, that reaches into two or more other apps, and that either
defines no models (seed data, reports, dashboards) or reaches the others only through their
events (a read model such as an order history). They serve the contexts rather than belong to
one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from analyzer.discovery import SourceFile
from analyzer.facts import FileFacts, Kind


class Role(StrEnum):
    DOMAIN = "domain"
    PROJECT = "project"
    SUPPORT = "support"


@dataclass
class App:
    """A Django app, or a package standing in for one."""

    name: str
    package: str
    django: bool
    role: Role = Role.DOMAIN
    reason: str = ""
    modules: list[str] = field(default_factory=list)


@dataclass
class Layout:
    apps: dict[str, App]
    module_app: dict[str, str]
    labels: dict[str, str]  # Django app label -> app name
    auth_user_model: str | None
    task_names: dict[str, str]  # explicit Celery task name -> module

    def app_of(self, module: str) -> App:
        return self.apps[self.module_app[module]]


def _parent(module: str) -> str:
    return module.rpartition(".")[0]


def _longest_prefix(module: str, packages: Iterable[str]) -> str | None:
    best: str | None = None
    for package in packages:
        if (module == package or module.startswith(package + ".")) and (
            best is None or len(package) > len(best)
        ):
            best = package
    return best


def _django_apps(files: Mapping[str, SourceFile], facts: Mapping[str, FileFacts]) -> dict[str, str]:
    """App package -> label, for the apps whose package is in the tree.

    Every `AppConfig` in the tree counts (an `INSTALLED_APPS` entry naming a config class
    points at one of them); so does every package `INSTALLED_APPS` names.
    """
    labels: dict[str, str] = {}
    for found in facts.values():
        for name, label in found.app_configs:
            if name in files:
                labels[name] = label or name.rsplit(".", 1)[-1]
    for found in facts.values():
        installed = found.settings.get("INSTALLED_APPS")
        for entry in installed if isinstance(installed, list) else ():
            if entry in files and files[entry].is_package:
                labels.setdefault(entry, entry.rsplit(".", 1)[-1])
    return labels


def _project_packages(facts: Mapping[str, FileFacts], files: Mapping[str, SourceFile]) -> set[str]:
    packages: set[str] = set()
    for module, found in facts.items():
        if found.settings.get("INSTALLED_APPS"):
            package = module if files[module].is_package else _parent(module)
            if package.rsplit(".", 1)[-1] == "settings":
                package = _parent(package)
            packages.add(package)
        for setting in ("ROOT_URLCONF", "WSGI_APPLICATION", "ASGI_APPLICATION"):
            value = found.settings.get(setting)
            if isinstance(value, str) and value:
                target = value if setting == "ROOT_URLCONF" else _parent(value)
                packages.add(
                    target if target in files and files[target].is_package else _parent(target)
                )
    return {package for package in packages if package}


def _place(
    module: str, is_package: bool, apps: Mapping[str, str], project: set[str], depth: int
) -> App:
    """The app `module` belongs to (a new App object if it is not a known app's)."""
    package = _longest_prefix(module, apps)
    if package is not None:
        return App(apps[package], package, django=True)
    glue = _longest_prefix(module, project) or (module if module == "manage" else None)
    if glue is not None:
        return App(
            glue, glue, django=False, role=Role.PROJECT, reason="project settings and entry points"
        )
    holder = module if is_package else module.rpartition(".")[0]
    if any(package.startswith(holder + ".") for package in apps):
        reason = "package holding the apps" if is_package else "module beside the apps, not in one"
        return App(module, module, django=False, role=Role.PROJECT, reason=reason)
    group = ".".join(module.split(".")[:depth])
    return App(group, group, django=False)


def shapes_layout(facts: FileFacts) -> bool:
    """Whether `find_layout` reads anything of these facts (app configs, settings, named
    tasks): without any, a file leaves the layout as it would be without the file's facts."""
    return bool(facts.app_configs or facts.settings or any(task.name for task in facts.tasks))


def find_layout(files: Mapping[str, SourceFile], facts: Mapping[str, FileFacts]) -> Layout:
    """Assign every module to an app (see the module docstring for the rules)."""
    django = _django_apps(files, facts)
    apps: dict[str, App] = {}
    labels: dict[str, str] = {}
    for package, label in sorted(django.items()):
        name = label if label not in apps else package
        apps[name] = App(name, package, django=True)
        labels[label] = name
    by_package = {app.package: app.name for app in apps.values()}
    project = _project_packages(facts, files)
    tops = {module.split(".", 1)[0] for module in files}
    depth = 2 if len(tops) == 1 else 1
    module_app: dict[str, str] = {}
    for module in files:
        app = _place(module, files[module].is_package, by_package, project, depth)
        apps.setdefault(app.name, app)
        module_app[module] = app.name
        apps[app.name].modules.append(module)
    auth_user = next(
        (
            str(f.settings["AUTH_USER_MODEL"])
            for f in facts.values()
            if "AUTH_USER_MODEL" in f.settings
        ),
        "auth.User" if "auth" in labels else None,
    )
    tasks = {
        task.name: module for module, found in facts.items() for task in found.tasks if task.name
    }
    return Layout(apps, module_app, labels, auth_user, tasks)


def mark_support(
    layout: Layout, app_edges: Iterable[tuple[str, str, Kind]], model_apps: set[str]
) -> None:
    """Set aside support apps; `app_edges` are (source app, target app, kind) across apps."""
    incoming: dict[str, set[str]] = {}
    outgoing: dict[str, set[str]] = {}
    kinds: dict[str, set[Kind]] = {}
    for source, target, kind in app_edges:
        if layout.apps[source].role == Role.PROJECT or layout.apps[target].role == Role.PROJECT:
            continue
        incoming.setdefault(target, set()).add(source)
        outgoing.setdefault(source, set()).add(target)
        kinds.setdefault(source, set()).add(kind)
    for app in layout.apps.values():
        reaches = sorted(t for t in outgoing.get(app.name, ()) if layout.apps[t].django)
        if not app.django or incoming.get(app.name) or len(reaches) < 2:
            continue
        if app.name not in model_apps:
            app.role = Role.SUPPORT
            app.reason = "no models, nothing depends on it, uses " + ", ".join(reaches)
        elif kinds[app.name] == {Kind.EVENT}:
            app.role = Role.SUPPORT
            app.reason = (
                "a read model fed by events of " + ", ".join(reaches) + "; nothing depends on it"
            )
