"""A small ONNX graph builder shared by the float and the integer step models.

It hands out unique tensor names, keeps constants as initializers and declares the step
model's interface::

    inputs   x (batch, *input_shape), reset (bool scalar), state_in.<key> ...
    outputs  <declared outputs> ..., state_out.<key> ...

Every state is read through ``Where(reset, initial, state_in.<key>)``: on the first step the
caller sets ``reset = True`` (the state inputs may hold anything of the right shape, e.g.
zeros) and the model starts from the initial state stored in its own initializers; on later
steps ``reset = False`` and ``state_in.<key>`` is the previous step's ``state_out.<key>``.
Only standard ONNX operators (default domain, opset :data:`OPSET`) are emitted.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snnc.errors import ValidationError

OPSET = 17
IR_VERSION = 8  # onnxruntime >= 1.10 reads it
BATCH = "batch"

#: the protobuf limit of one ONNX file (external data is not used)
MAX_MODEL_BYTES = 2_000_000_000

STATE_IN = "state_in."
STATE_OUT = "state_out."


@dataclasses.dataclass
class State:
    """One explicit state tensor: name key, element type, shape after the batch axis."""

    key: str
    dtype: type
    shape: tuple[int, ...]  # without the batch axis; () for the scalar step counter
    batched: bool = True
    doc: str = ""


class Builder:
    """Accumulates nodes, initializers, inputs, outputs and states of one ONNX graph."""

    def __init__(self) -> None:
        from onnx import TensorProto

        self.TensorProto = TensorProto
        self.nodes: list = []
        self.initializers: list = []
        self.inputs: list = []
        self.outputs: list = []
        self.states: list[State] = []
        self._consts: dict[tuple, str] = {}
        self._count = 0

    # -------------------------------------------------------------------------- names
    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}#{self._count}"

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, **attrs) -> str:
        """Append one node; returns its (single) output's name."""
        from onnx import helper

        out = self.fresh(hint or op_type)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def const(self, value, dtype=None, hint: str = "c") -> str:
        """An initializer holding ``value`` (scalars are deduplicated)."""
        from onnx import numpy_helper

        arr = np.asarray(value, dtype=dtype)
        if arr.ndim == 0:
            key = (arr.dtype.str, arr.item())
            if key in self._consts:
                return self._consts[key]
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        if arr.ndim == 0:
            self._consts[key] = name
        return name

    # ---------------------------------------------------------------------- interface
    def _elem(self, dtype) -> int:
        from onnx import helper

        return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))

    def add_input(self, name: str, dtype, shape: tuple, doc: str = "") -> str:
        from onnx import helper

        self.inputs.append(helper.make_tensor_value_info(name, self._elem(dtype), list(shape), doc))
        return name

    def add_output(self, tensor: str, name: str, dtype, shape: tuple, doc: str = "") -> None:
        from onnx import helper

        self.nodes.append(helper.make_node("Identity", [tensor], [name], name=f"out:{name}"))
        self.outputs.append(
            helper.make_tensor_value_info(name, self._elem(dtype), list(shape), doc)
        )

    def state(self, st: State, reset: str, initial) -> str:
        """Declare state ``st``; returns the tensor that holds its value for this step."""
        self.states.append(st)
        shape = ((BATCH,) if st.batched else ()) + tuple(st.shape)
        name = self.add_input(STATE_IN + st.key, st.dtype, shape, st.doc)
        init = self.const(initial, st.dtype, hint=f"init.{st.key}")
        return self.op("Where", [reset, init, name], hint=f"{st.key}.start")

    def state_next(self, st: State, tensor: str) -> None:
        shape = ((BATCH,) if st.batched else ()) + tuple(st.shape)
        self.add_output(tensor, STATE_OUT + st.key, st.dtype, shape, st.doc)

    # ------------------------------------------------------------------------ helpers
    def dense(self, matrix, dtype, node: str) -> np.ndarray:
        """``matrix`` (dense or scipy sparse) as a dense array, refusing what cannot fit a file."""
        rows, cols = matrix.shape
        size = int(rows) * int(cols) * np.dtype(dtype).itemsize
        if size > MAX_MODEL_BYTES:
            raise ValidationError(
                f"its {rows}x{cols} matrix would take {size / 1e9:.1f} GB as a dense ONNX "
                f"tensor; one ONNX file holds at most {MAX_MODEL_BYTES / 1e9:.0f} GB",
                node=node,
                hint="step models store every block densely: export a smaller network",
            )
        return (matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)).astype(dtype)

    def flat(self, tensor: str, n: int) -> str:
        """(batch, *shape) -> (batch, n)."""
        return self.op("Reshape", [tensor, self.const([-1, n], np.int64)], hint="flat")

    def shaped(self, tensor: str, shape: tuple[int, ...]) -> str:
        """(batch, n) -> (batch, *shape)."""
        return self.op("Reshape", [tensor, self.const([-1, *shape], np.int64)], hint="shaped")

    def batch_zeros(self, like: str, n: int, dtype) -> str:
        """Zeros (batch, n) with the batch size of ``like`` (any (batch, ...) tensor)."""
        from onnx import helper, numpy_helper

        batch = self.op(
            "Slice",
            [self.op("Shape", [like]), self.const([0], np.int64), self.const([1], np.int64)],
        )
        shape = self.op("Concat", [batch, self.const([n], np.int64)], axis=0)
        zero = numpy_helper.from_array(np.zeros(1, dtype=dtype))
        out = self.fresh("zeros")
        self.nodes.append(
            helper.make_node("ConstantOfShape", [shape], [out], name=out, value=zero)
        )
        return out

    def model(self, name: str, doc: str, metadata: dict[str, str]):
        """The ``ModelProto`` (checked with ``onnx.checker``)."""
        import onnx
        from onnx import helper

        graph = helper.make_graph(
            self.nodes, name, self.inputs, self.outputs, self.initializers, doc_string=doc
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="snnc",
            doc_string=doc,
        )
        model.ir_version = IR_VERSION
        helper.set_model_props(model, metadata)
        onnx.checker.check_model(model)
        return model
