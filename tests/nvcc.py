"""nvcc's host builds of the CUDA sources, for the tests that check them on a machine without a GPU.

Each source's __host__ __device__ functions, the code each GPU thread runs, are compiled with a
driver from tests/cuda/<name>_main.cu into a CPU program that prints what they compute; the tests
compare its output to the NumPy references. NVRTC compiles the same text on the GPU machine.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ebmlang.backend.philox import cuda_source

NVCC = shutil.which("nvcc")
DRIVERS = Path(__file__).resolve().parent / "cuda"

needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc (the CUDA compiler) is not installed: "
                                "the CUDA sources are checked only on machines that have it")


def nvcc(args, cwd) -> None:
    done = subprocess.run([NVCC, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def ptx(sources, folder: Path, name: str, defines=()) -> str:
    """The PTX for sm_90 of the translation unit ``cuda_source(*sources)`` with the macros
    ``defines``, compiled as C++11 with every warning an error: CuPy may hand NVRTC C++11."""
    (folder / f"{name}.cu").write_text(cuda_source(*sources))
    nvcc(["-ptx", "-arch=sm_90", "-std=c++11", "-Werror", "all-warnings", *defines,
          "-o", f"{name}.ptx", f"{name}.cu"], folder)
    return (folder / f"{name}.ptx").read_text()


def host_program(sources, folder: Path, name: str, defines=(), binary: str | None = None) -> Path:
    """The sources followed by the driver tests/cuda/<name>_main.cu, built for the CPU with the
    macros ``defines`` ("-DNAME=value", ...) into ``binary`` (default: ``name``)."""
    if NVCC is None:
        pytest.skip("nvcc is not installed")
    binary = binary or name
    driver = (DRIVERS / f"{name}_main.cu").read_text()
    (folder / f"{binary}.cu").write_text(cuda_source(*sources) + driver)
    nvcc(["-O2", "-arch=sm_90", f"-I{DRIVERS}", *defines, "-o", binary, f"{binary}.cu"], folder)
    return folder / binary


def run(program, *args, stdin: str = "") -> list[str]:
    """The whitespace-separated words ``program`` prints for ``args`` and ``stdin``."""
    done = subprocess.run([str(program), *map(str, args)], input=stdin, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()
