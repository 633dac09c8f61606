#!/usr/bin/env python3
"""Run the static ecs-deploy in an empty root: nothing but the binary and a CA file.

The root directory holds exactly two files, /ecs-deploy and /ca.pem: no
/etc/ssl, no /etc/resolv.conf, no /dev, no /proc, no libc, no loader. The
binary runs there under chroot (as root) or `unshare -r --root` (an
unprivileged user namespace), which is what a `FROM scratch` image gives it.
Checked inside that root:

- `--version` and `--help` work;
- a deploy to an HTTPS fake ECS on 127.0.0.1 (moto_server behind a TLS
  front whose certificate comes from a throwaway CA) succeeds when
  AWS_CA_BUNDLE=/ca.pem (and when SSL_CERT_FILE=/ca.pem), and registers the
  new revision (its image pushed to moto's ECR, which ecs-deploy checks
  through the same front: AWS_ENDPOINT_URL);
- without either, the same deploy is refused with exit 2 and a certificate
  error (the bundled Mozilla roots do not trust the throwaway CA), and
  registers nothing;
- AWS_CA_BUNDLE naming a file missing from the root is a usage error (exit 3).

    python3 scripts/empty_root_check.py --binary target/x86_64-unknown-linux-musl/release/ecs-deploy

A binary for another architecture (the arm64 one) runs there under a static
user-mode emulator copied into the root with it:

    python3 scripts/empty_root_check.py --binary target/aarch64-unknown-linux-musl/release/ecs-deploy \
        --emulator /usr/bin/qemu-aarch64-static

If neither chroot nor an unprivileged user namespace is possible here, it says
why and exits 0 (skipped), unless --require is given: then a skip is a
failure, which is how CI, which can chroot, makes sure it really ran. Exit
status 1 when a check failed. Servers listen on 127.0.0.1 only and are
stopped on exit.
"""

import contextlib
import os
import shutil
import sys
import tempfile

import harness as h

NAME = "empty-root-check"


def isolation(root, via="auto", runner=()):
    """How to enter `root`: (argv prefix, description) or (None, why not);
    `runner` (an emulator in the root) goes after the prefix. Probed with
    `--version`, so a binary that cannot run there (a dynamic one) is not
    mistaken for a machine that cannot chroot."""
    tried = []
    candidates = []
    if via == "unshare":
        tried.append("chroot: not tried (--via unshare)")
    elif os.geteuid() == 0 and shutil.which("chroot"):
        candidates.append(([shutil.which("chroot"), root, *runner], "chroot", (125,)))
    elif os.geteuid() == 0:
        tried.append("chroot: not installed")
    else:
        tried.append("chroot: needs root")
    if via == "chroot":
        tried.append("unshare: not tried (--via chroot)")
    elif shutil.which("unshare"):
        candidates.append(([shutil.which("unshare"), "-r", f"--root={root}", *runner],
                           "unshare -r --root", (1,)))
    else:
        tried.append("unshare: not installed")
    for prefix, what, setup_failed in candidates:
        code, out, _ = h.run_binary("/ecs-deploy", ["--version"], {}, timeout=30,
                                    prefix=prefix, home="/")
        # chroot exits 125 and unshare 1 when they cannot set the root up; 126
        # and 127 mean the root was entered but /ecs-deploy could not be run.
        if code in setup_failed:
            tried.append(f"{what}: {out.strip() or f'exit {code}'}")
            continue
        return prefix, what
    return None, "; ".join(tried)


def main():
    parser = h.argument_parser(__doc__, "the static ecs-deploy (make musl builds it)")
    parser.add_argument("--require", action="store_true",
                        help="fail instead of skipping when this machine cannot chroot")
    parser.add_argument("--emulator", metavar="PATH",
                        help="a static user-mode emulator (qemu-aarch64-static) to run the binary "
                        "with, copied into the root")
    parser.add_argument("--via", choices=("auto", "chroot", "unshare"), default="auto",
                        help="how to enter the empty root (default: chroot as root, "
                        "else unshare -r --root)")
    opts, binary = h.parse_args(NAME, parser)

    report = h.Report(NAME)
    interp = h.elf_interpreter(binary)
    if not report.check(interp == "", f"{opts.binary} is a static executable",
                        "not an ELF file" if interp is None
                        else f"it needs the dynamic loader {interp} (build with make musl)"):
        return report.summary()

    with tempfile.TemporaryDirectory() as work:
        root = os.path.join(work, "root")
        os.mkdir(root)
        os.chmod(root, 0o755)
        ca, cert, key = h.make_tls_files(work)
        shutil.copy(binary, os.path.join(root, "ecs-deploy"))
        shutil.copy(ca, os.path.join(root, "ca.pem"))
        os.chmod(os.path.join(root, "ecs-deploy"), 0o755)
        os.chmod(os.path.join(root, "ca.pem"), 0o644)
        runner = ()
        if opts.emulator:
            name = "/" + os.path.basename(opts.emulator)
            if not report.check(h.elf_interpreter(opts.emulator) == "",
                                f"{opts.emulator} is a static executable",
                                "an emulator that needs a loader cannot run in an empty root"):
                return report.summary()
            shutil.copy(opts.emulator, root + name)
            os.chmod(root + name, 0o755)
            runner = (name,)

        prefix, how = isolation(root, opts.via, runner)
        if prefix is None:
            print(f"{NAME}: cannot run a process in an empty root here ({how})", flush=True)
            if opts.require:
                report.check(False, "entered an empty root", "--require was given")
            else:
                print(f"{NAME}: skipped", flush=True)
            return report.summary()
        print(f"{NAME}: entering {root} with {how}; it holds "
              f"{', '.join('/' + n for n in sorted(os.listdir(root)))}", flush=True)

        def run(args, env=None):
            base = {"AWS_EC2_METADATA_DISABLED": "true",
                    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
            return h.run_binary("/ecs-deploy", args, dict(base, **(env or {})),
                                prefix=prefix, home="/")

        code, out, _ = run(["--version"])
        report.check(code == 0 and out.startswith("ecs-deploy "),
                     "--version in the empty root prints the version and exits 0",
                     f"exit {code}", out)
        code, out, _ = run(["--help"])
        report.check(code == 0 and "Usage:" in out and "--cluster" in out,
                     "--help in the empty root prints the usage and exits 0",
                     f"exit {code}", out)

        # The ExitStack stops both servers once the failure (if any) is reported.
        with contextlib.ExitStack() as servers, h.reported(report):
            moto = servers.enter_context(h.MotoServer(opts.moto_server))
            web = h.WebService(moto.url)
            front = servers.enter_context(h.TlsFront(moto.port, cert, key))
            status, _ = h.http_get(front.url + "/moto-api/", cafile=ca)
            report.check(status == 200, f"fake ECS answers on {front.url} (throwaway CA)",
                         f"HTTP {status}")
            front.take()

            for variable in ("AWS_CA_BUNDLE", "SSL_CERT_FILE"):
                image = web.next_image()
                label = f"deploy over HTTPS with {variable}=/ca.pem"
                code, out, took = run(web.deploy_args(front.url, image),
                                      dict(web.endpoint_env(front.url), **{variable: "/ca.pem"}))
                wrong = web.runs(image)
                report.check(code == 0 and not wrong, f"{label}: exits 0 and the service runs "
                             f"{image.rsplit('/', 1)[1]} ({took:.2f} s)",
                             f"exit {code}; {wrong}", out)
                report.check("could not check" not in out,
                             f"{label}: the image check was answered by moto's ECR",
                             "the run says it could not check the image", out)
                seen = front.take()
                report.check(("handshake ok", "TLSv1.3") in seen or
                             ("handshake ok", "TLSv1.2") in seen,
                             f"{label}: the TLS front completed a handshake", f"saw {seen}")

            revisions = h.revision_count(moto.url, h.FAMILY)
            code, out, _ = run(web.deploy_args(front.url, web.next_image()),
                               web.endpoint_env(front.url))
            label = "deploy over HTTPS without a CA bundle"
            report.check(code == 2, f"{label}: exits 2", f"exit {code}", out)
            report.check("certificate" in out.lower() and "127.0.0.1" in out,
                         f"{label}: says the certificate of 127.0.0.1 is not trusted",
                         "no certificate error in the output", out)
            report.check(h.revision_count(moto.url, h.FAMILY) == revisions,
                         f"{label}: registered nothing")
            seen = front.take()
            report.check(any(e[0] == "handshake failed" for e in seen),
                         f"{label}: the client aborted the TLS handshake", f"saw {seen}")

            code, out, _ = run(web.deploy_args(front.url, web.next_image()),
                               dict(web.endpoint_env(front.url), AWS_CA_BUNDLE="/missing.pem"))
            report.check(code == 3 and "/missing.pem" in out,
                         "AWS_CA_BUNDLE naming a file not in the root: exit 3, names the file",
                         f"exit {code}", out)
            report.check(not front.take(), "... and nothing was sent")
    return report.summary()


if __name__ == "__main__":
    sys.exit(main())
