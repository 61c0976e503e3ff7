"""The screen's compiled kernel: softplus from a precomputed exp, in strict IEEE float32.

The kernel is written once as LLVM IR (with llvmlite, the code generator
numba is built on) and compiled for this CPU at its first call, in about a
tenth of a second: numba's own start-up (import, typing context, cache
lookup) took 1.7 s, more than half of a one-second screen.
:func:`hea_dvae.design.screen.scorer.softplus_numpy` does the same
arithmetic in numpy for small arrays, bit for bit (tested).

Strict IEEE arithmetic (no fast-math flags, no fused multiply-add): every
element goes through the same correctly rounded operations whether it lands
in a vector lane or in the loop's tail, so results do not depend on an
array's length or offset.
"""

from __future__ import annotations

import ctypes
import threading

import numpy as np

#: Constants of the kernel, float32 as numpy rounds them: 0, 1, 2 and the odd series' 1/15 ... 1/3, 1.
_SERIES = (1 / 13, 1 / 11, 1 / 9, 1 / 7, 1 / 5, 1 / 3, 1.0)
_FLOAT_P = ctypes.POINTER(ctypes.c_float)
_lock = threading.Lock()
_compiled: list = []  # [(engine, function)] once built: the engine owns the machine code


def _kernel_ir() -> str:
    """LLVM IR of ``softplus(pre, growth, out, rows, width, pre_stride, growth_stride, out_stride)``.

    softplus(x) = max(x, 0) + log1p(exp(-|x|)), and log1p(u) = 2 atanh(s) with
    s = u / (2 + u) <= 1/3, whose odd series to s^15 is exact to 1e-9. With
    u = exp(x) (x <= 0) or 1/exp(x) (x > 0), s is e/(2+e) or 1/(2e+1): one
    division, no logarithm; exp overflowing to inf gives s = 0, i.e. x.
    About twice as fast as torch's softplus here and as accurate (a few
    1e-7 absolute: float32 rounding of the result).
    """
    from llvmlite import ir

    f32, i64 = ir.FloatType(), ir.IntType(64)
    module = ir.Module(name="hea_dvae_softplus")
    function = ir.Function(module, ir.FunctionType(ir.VoidType(), [f32.as_pointer()] * 3 + [i64] * 5),
                           name="softplus")
    pre, growth, out, rows, width, pre_stride, growth_stride, out_stride = function.args
    for array in (pre, growth, out):
        array.add_attribute("noalias")  # three separate buffers: the loop may be vectorised
    blocks = {name: function.append_basic_block(name) for name in ("entry", "rows", "columns", "body", "next", "done")}
    b = ir.IRBuilder(blocks["entry"])
    b.branch(blocks["rows"])

    b.position_at_end(blocks["rows"])
    row = b.phi(i64, "row")
    row.add_incoming(ir.Constant(i64, 0), blocks["entry"])
    b.cbranch(b.icmp_signed("<", row, rows), blocks["columns"], blocks["done"])

    b.position_at_end(blocks["columns"])
    column = b.phi(i64, "column")
    column.add_incoming(ir.Constant(i64, 0), blocks["rows"])
    b.cbranch(b.icmp_signed("<", column, width), blocks["body"], blocks["next"])

    b.position_at_end(blocks["body"])

    def constant(value):
        return ir.Constant(f32, float(np.float32(value)))

    def element(array, stride):
        return b.gep(array, [b.add(b.mul(row, stride), column)])

    x, e = b.load(element(pre, pre_stride)), b.load(element(growth, growth_stride))
    one, two, zero = constant(1.0), constant(2.0), constant(0.0)
    positive = b.fcmp_ordered(">", x, zero)
    s = b.fdiv(b.select(positive, one, e), b.select(positive, b.fadd(b.fmul(two, e), one), b.fadd(two, e)))
    s2 = b.fmul(s, s)
    series = constant(1 / 15)
    for coefficient in _SERIES:
        series = b.fadd(b.fmul(series, s2), constant(coefficient))
    b.store(b.fadd(b.select(positive, x, zero), b.fmul(b.fmul(two, s), series)), element(out, out_stride))
    column.add_incoming(b.add(column, ir.Constant(i64, 1)), blocks["body"])
    b.branch(blocks["columns"])

    b.position_at_end(blocks["next"])
    row.add_incoming(b.add(row, ir.Constant(i64, 1)), blocks["next"])
    b.branch(blocks["rows"])

    b.position_at_end(blocks["done"])
    b.ret_void()
    return str(module)


def _kernel():
    """The compiled kernel as a ctypes function, built for this CPU on first use (once per process)."""
    with _lock:
        if not _compiled:
            import llvmlite.binding as llvm

            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            machine = llvm.Target.from_default_triple().create_target_machine(
                cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(), opt=3)
            module = llvm.parse_assembly(_kernel_ir())
            module.verify()
            builder = llvm.create_pass_builder(machine, llvm.create_pipeline_tuning_options(speed_level=3))
            builder.getModulePassManager().run(module, builder)
            engine = llvm.create_mcjit_compiler(module, machine)
            engine.finalize_object()
            function = ctypes.CFUNCTYPE(None, _FLOAT_P, _FLOAT_P, _FLOAT_P, *[ctypes.c_int64] * 5)(
                engine.get_function_address("softplus"))
            _compiled.append((engine, function))
        return _compiled[0][1]


def softplus_compiled(pre: np.ndarray, growth: np.ndarray, out: np.ndarray) -> None:
    """``out[:, :w] = softplus(pre)`` given ``growth = exp(pre)``; float32, ``pre`` is (n, w).

    ``out`` may be wider than ``pre`` (the column of ones that carries the
    next layer's bias); rows may be views of larger buffers, each row's
    elements side by side. The call releases the GIL (threads run it side
    by side).
    """
    rows, width = pre.shape
    for name, array in (("pre", pre), ("growth", growth), ("out", out)):
        if array.dtype != np.float32 or array.ndim != 2 or array.strides[1] != 4 or array.strides[0] % 4:
            raise ValueError(f"softplus kernel: {name} must be a 2-D float32 array with rows of adjacent elements")
    if growth.shape != pre.shape or out.shape[0] != rows or out.shape[1] < width:
        raise ValueError(f"softplus kernel: shapes pre {pre.shape}, growth {growth.shape}, out {out.shape}")
    if not out.flags.writeable:
        raise ValueError("softplus kernel: out is read-only")
    if rows and width:
        _kernel()(pre.ctypes.data_as(_FLOAT_P), growth.ctypes.data_as(_FLOAT_P), out.ctypes.data_as(_FLOAT_P),
                  rows, width, pre.strides[0] // 4, growth.strides[0] // 4, out.strides[0] // 4)
