"""Command line: ``python -m slm_helpers.sharing publish|download|versions|verify ...``.

The same calls as the Python API, for a terminal (or eight terminals at once)::

    python -m slm_helpers.sharing publish pkg/sst2-cnn course/sst2-cnn --version v1
    python -m slm_helpers.sharing versions course/sst2-cnn
    python -m slm_helpers.sharing download course/sst2-cnn --revision v1
    python -m slm_helpers.sharing verify ~/.cache/slm-course/hub/.downloads/course/sst2-cnn/<commit>

``--root`` picks the local hub folder (default ``$SLM_HUB_DIR``); ``--token-env HF_TOKEN``
uses the Hugging Face Hub with the token in that environment variable.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import SharingError, get_hub, verify_folder


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m slm_helpers.sharing", description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="local hub folder (default: $SLM_HUB_DIR or ~/.cache/slm-course/hub)")
    parser.add_argument("--token-env", help="use the Hugging Face Hub with the token in this environment variable")
    sub = parser.add_subparsers(dest="command", required=True)
    pub = sub.add_parser("publish", help="publish a package folder as a new version")
    pub.add_argument("folder")
    pub.add_argument("repo_id")
    pub.add_argument("--version", required=True)
    down = sub.add_parser("download", help="download a revision, verified; print its folder")
    down.add_argument("repo_id")
    down.add_argument("--revision", default="main")
    down.add_argument("--dest")
    ver = sub.add_parser("versions", help="list a repo's versions with their results")
    ver.add_argument("repo_id")
    chk = sub.add_parser("verify", help="check a package folder against its manifest")
    chk.add_argument("folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    token = None
    if args.token_env:
        token = os.environ.get(args.token_env)
        if not token:
            print(f"error: the environment variable {args.token_env} is empty", file=sys.stderr)
            return 2
    try:
        if args.command == "verify":
            manifest = verify_folder(args.folder)
            print(f"ok: {len(manifest['files'])} files match {args.folder}/manifest.json")
            return 0
        hub = get_hub(token=token, root=args.root)
        if args.command == "publish":
            info = hub.publish(args.folder, args.repo_id, version=args.version)
            print(f"published {info.repo_id} {info.version} {info.commit}")
        elif args.command == "download":
            print(hub.download(args.repo_id, revision=args.revision, dest=args.dest))
        else:
            for info in hub.list_versions(args.repo_id):
                print("  ".join(f"{k}={v}" for k, v in info.row().items()))
    except SharingError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
