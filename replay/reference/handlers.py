"""Which function executes which hypercall (generation-independent ``Hc`` codes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from replay.reference import hc_create, hc_ctrl, ipc, irq_assign, semaphores
from tracefmt.nova import Hc

HANDLERS: dict[Hc, Callable[[Any, Any, Any], None]] = {
    Hc.IPC_CALL: ipc.ipc_call,
    Hc.IPC_REPLY: ipc.ipc_reply,
    Hc.CREATE_PD: hc_create.create_pd,
    Hc.CREATE_EC: hc_create.create_ec,
    Hc.CREATE_SC: hc_create.create_sc,
    Hc.CREATE_PT: hc_create.create_pt,
    Hc.CREATE_SM: hc_create.create_sm,
    Hc.CREATE_DC: hc_create.create_dc,
    Hc.CTRL_PD: hc_ctrl.ctrl_pd,
    Hc.CTRL_EC: hc_ctrl.ctrl_ec,
    Hc.CTRL_SC: hc_ctrl.ctrl_sc,
    Hc.CTRL_PT: hc_ctrl.ctrl_pt,
    Hc.CTRL_SM: semaphores.ctrl_sm,
    Hc.CTRL_HW: hc_ctrl.ctrl_hw,
    Hc.ASSIGN_INT: irq_assign.assign_int,
    Hc.ASSIGN_DEV: hc_ctrl.assign_dev,
    Hc.RESERVED: hc_ctrl.reserved,
}
