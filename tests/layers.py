#!/usr/bin/env python3
"""Fails when a module of the operator library imports one in a layer above it, or when modules
form an import cycle. The layers are those of ARCHITECTURE.md; every module must be listed.

Reads every `crate::<module>` path in operator/src (comments skipped, tests included: a test
module's imports count too). Usage: tests/layers.py [SRC_DIR]"""
import os
import re
import sys

# Bottom to top. The CLI is a crate of its own (operator/cli) on top of all of them: the library
# cannot import it, Cargo forbids the cycle.
# Bottom to top. A module may import modules of its own layer (without a cycle) or of lower ones.
LAYERS = [
    ("base", ["redact", "kind", "prices", "priority", "error", "config", "metrics", "policy", "telemetry"]),
    ("adapters", ["throttle", "aws", "store", "rds"]),
    ("resources", ["render", "resources"]),
    ("engine", ["engine"]),
    ("reconcile", ["reconcile", "cost"]),
    ("controller", ["queue", "retry", "resync", "controller", "server", "isolation", "session_guard", "runtime"]),
]
# Modules that must import nothing of the crate at all.
LEAVES = {"redact", "kind", "prices", "priority", "retry", "telemetry"}
# Under resources/: the kinds, each of which may use the registry (resources/mod.rs) and the
# shared helpers, but never another kind ("one kind never calls another").
KINDS = {"db_secret", "oauth_secret", "iam_role", "task_definition", "ecs_service", "pg_tenant",
         "tenant_objects", "agent_logs",
         "shared_rls"}
HELPERS = {"secrets_manager", "sql", "tags", "inventory"}

def module_of(rel):
    first = rel.split(os.sep)[0]
    return first[:-3] if first.endswith(".rs") else first

def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "operator", "src")
    layer = {m: i for i, (_, ms) in enumerate(LAYERS) for m in ms}
    edges = {}
    problems = []
    declared = set(re.findall(r"^pub mod (\w+);", open(os.path.join(src, "lib.rs")).read(), re.M))
    for m in sorted(declared - set(layer)):
        problems.append(f"module {m} is in no layer: add it to tests/layers.py and ARCHITECTURE.md")
    for m in sorted(set(layer) - declared):
        problems.append(f"module {m} is listed in a layer but not declared in lib.rs")
    rdir = os.path.join(src, "resources")
    # A kind is resources/<kind>.rs or the folder resources/<kind>/.
    present = {f[:-3] if f.endswith(".rs") else f for f in os.listdir(rdir)
               if f != "mod.rs" and (f.endswith(".rs") or os.path.isdir(os.path.join(rdir, f)))}
    def files_of(m):
        if os.path.isdir(os.path.join(rdir, m)):
            return [os.path.join(rdir, m, f) for f in sorted(os.listdir(os.path.join(rdir, m))) if f.endswith(".rs")]
        return [os.path.join(rdir, m + ".rs")]
    for m in sorted(present - KINDS - HELPERS):
        problems.append(f"resources/{m} is neither a kind nor a helper: add it to tests/layers.py")
    for f, path in sorted((k, p) for k in present & KINDS for p in files_of(k)):
        for n, line in enumerate(open(path), 1):
            code = line.split("//", 1)[0]
            for other in re.findall(r"\b(?:crate::resources|super)::(\w+)", code):
                if other in KINDS and other != f:
                    problems.append(f"{os.path.relpath(path, src)}:{n}: the {f} kind uses the {other} kind")
            for other in re.findall(r"\bcrate::resources::\{([^}]*)\}", code):
                for o in re.findall(r"\w+", other):
                    if o in KINDS and o != f:
                        problems.append(f"{os.path.relpath(path, src)}:{n}: the {f} kind uses the {o} kind")
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs") or f in ("lib.rs", "main.rs"):
                continue
            path = os.path.join(root, f)
            mod = module_of(os.path.relpath(path, src))
            for n, line in enumerate(open(path), 1):
                code = line.split("//", 1)[0]
                for dep in re.findall(r"\bcrate::(\w+)", code):
                    if dep == mod:
                        continue
                    edges.setdefault(mod, {}).setdefault(dep, f"{os.path.relpath(path, src)}:{n}")
    for mod, deps in sorted(edges.items()):
        for dep, where in sorted(deps.items()):
            if mod in LEAVES:
                problems.append(f"{where}: {mod} must import nothing of the crate, but imports {dep}")
            elif mod in layer and dep in layer and layer[dep] > layer[mod]:
                problems.append(
                    f"{where}: {mod} ({LAYERS[layer[mod]][0]}) imports {dep} ({LAYERS[layer[dep]][0]}), a layer above it")
    # Cycles: strongly connected components of more than one module.
    index, low, stack, on, sccs = {}, {}, [], set(), []
    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v); on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))
    sys.setrecursionlimit(10000)
    for v in sorted(set(edges) | {d for ds in edges.values() for d in ds}):
        if v not in index:
            visit(v)
    for comp in sccs:
        problems.append(f"import cycle through {len(comp)} modules: {', '.join(comp)}")
    if problems:
        print("\n".join(problems))
        print(f"layers: {len(problems)} problems")
        return 1
    n = sum(len(d) for d in edges.values())
    print(f"layers: ok ({len(layer)} modules, {n} imports, no cycle, none upward)")
    return 0

if __name__ == "__main__":
    sys.exit(main())
