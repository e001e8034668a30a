"""A software prefetch for numba kernels: `prefetch(a, i)` asks the CPU to bring a[i]'s
cache line in (LLVM's llvm.prefetch, a hint: no fault, no effect on results). Delivery
reads each firing source's synapse words from a table of hundreds of megabytes at places
the hardware prefetcher cannot guess; asking for them a few sources ahead hides the wait
(benchmarks/README.md, refsim)."""

from __future__ import annotations

from llvmlite import binding, ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# LLVM 17 and later know only opaque pointers ("p0"); before, the pointer type is mangled
_NAME = "llvm.prefetch.p0" if binding.llvm_version_info >= (17,) else "llvm.prefetch.p0i8"


@intrinsic
def prefetch(typingctx, arr, idx):  # type: ignore[no-untyped-def]
    """Prefetch arr[idx] for reading into every cache level (idx unsigned or known in
    range: no bounds or negative-index check is made)."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]],
                                       wraparound=False, boundscheck=False)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), _NAME)
        # read, locality 3 (keep in every level), data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen
