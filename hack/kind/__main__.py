"""breakfix's one cluster path: a multi-node kind cluster with the operator from its image.

    python3 hack/kind up        engine, node image, kind cluster; last line: export KUBECONFIG=...
    python3 hack/kind up --deploy   the same, and deploy, overlapped (`make up`)
    python3 hack/kind deploy    build the operator image, kind load it, helm upgrade --install
    python3 hack/kind image     build the operator image only
    python3 hack/kind down      delete the cluster; stop the Docker engine if breakfix started it
    python3 hack/kind status    nodes, and the memory of the node containers and the engine
    python3 hack/kind browser   Debian's chromium and chromedriver, for the dashboard's test

Where `docker info` answers, that engine is used as it is. Otherwise (Debian, root) Debian's
docker.io is installed and started with state under the XDG dirs, and the node image is built
here from pinned sources (no registry needed). Environment: KIND_CLUSTER (breakfix),
BREAKFIX_WORKERS (2), BREAKFIX_NODE_IMAGE, BREAKFIX_PYTHON_BASE, IMAGE.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster
import engine
import operator_deploy
import packages
from common import SetupError, log


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="hack/kind", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "deploy", "image", "down", "status", "browser"])
    parser.add_argument(
        "--deploy", action="store_true", help="up: also deploy the operator, overlapped"
    )
    # deploy passes what follows to helm, e.g. `deploy --set operator.safetySeconds=60`.
    args, helm_args = parser.parse_known_args()
    deploying = args.command == "deploy" or (args.command == "up" and args.deploy)
    if helm_args and not deploying:
        parser.error(f"unrecognized arguments: {' '.join(helm_args)}")
    start = time.monotonic()
    try:
        if args.command == "up" and args.deploy:
            up_and_deploy(*helm_args)
            log(f"cluster and operator ready in {time.monotonic() - start:.1f}s")
            print(f"export KUBECONFIG={cluster.KUBECONFIG}")
        elif args.command == "up":
            cluster.up()
            log(f"cluster ready in {time.monotonic() - start:.1f}s")
            print(f"export KUBECONFIG={cluster.KUBECONFIG}")
        elif args.command == "deploy":
            operator_deploy.deploy(*helm_args)
            log(f"operator deployed in {time.monotonic() - start:.1f}s")
        elif args.command == "image":
            print(operator_deploy.build())
        elif args.command == "browser":
            packages.ensure(
                packages.BROWSER, "install Chromium and its chromedriver at /usr/bin, then again"
            )
            print(packages.BROWSER_PATH)
        elif args.command == "down":
            cluster.down()
            engine.stop()
            log(f"down in {time.monotonic() - start:.1f}s")
        else:
            if not engine.answers():
                log("no Docker engine answers: the cluster is down")
                return 1
            log("healthy" if cluster.healthy() else "not running or not healthy")
            print(cluster.memory())
    except SetupError as e:
        log(f"error: {e}")
        if e.hint:
            log(f"what to do: {e.hint}")
        return 1
    except KeyboardInterrupt:
        log("interrupted: `make down` cleans up, and `make up` starts over where it can")
        return 130
    return 0


def up_and_deploy(*helm_args: str) -> None:
    """The operator image builds while the node image is checked; a cluster created here starts
    from a node image that already holds it (else it is loaded while the nodes become ready);
    the chart is installed as soon as the API server answers, while the nodes become ready
    (its pods start once they are), and its rollout is waited on beside DNS and storage: on a
    warm machine the slow steps overlap instead of adding up."""
    engine.ensure()
    with ThreadPoolExecutor(max_workers=3) as pool:
        image = pool.submit(operator_deploy.build)
        loaded: list[Future[None]] = []
        installed: list[Future[None]] = []
        ready: list[Future[None]] = []

        def install() -> None:
            ref = image.result()
            for future in loaded:
                future.result()
            operator_deploy.install(ref, *helm_args, wait=False)

        def created(preloaded: str | None) -> None:
            if preloaded != image.result():
                loaded.append(pool.submit(lambda: cluster.load(image.result())))
            installed.append(pool.submit(install))

        def routed() -> None:
            def rolled_out() -> None:
                for future in installed:
                    future.result()
                operator_deploy.wait_ready()

            ready.append(pool.submit(rolled_out))

        cluster.up(created=created, routed=routed, preload=image.result)
        for future in ready:
            future.result()
    log(f"operator running in namespace {operator_deploy.NAMESPACE} from image {image.result()}")


if __name__ == "__main__":
    sys.exit(main())
