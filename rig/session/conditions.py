"""Capture conditions per item: the plan's fixed ones plus condition sweeps via a rig controller.

The sweep schedule (rig.devices.sweeps) says which conditions hold for each item;
the controller is called only where they change, and every capture records the
conditions the controller *reports* as applied, plus its light-sensor reading. With
the simulated camera the same conditions change the simulated photos (more haze
and glare with the lights on), so a sweep is visible in the data, not only the log.
"""

from __future__ import annotations

from typing import Any

from rig.devices.controller import RigController
from rig.devices.sim_camera import SimCamera
from rig.devices.sim_controller import SimRigController, overrides_for_conditions
from rig.devices.sweeps import sweep_schedule
from rig.session.plan import CapturePlan


class ConditionDriver:
    def __init__(
        self,
        plan: CapturePlan,
        n_items: int,
        controller: RigController | None = None,
        camera: SimCamera | None = None,
    ) -> None:
        self.fixed = dict(plan.conditions)
        self.schedule = (
            sweep_schedule(n_items, plan.sweeps, plan.sweep_every or n_items)
            if plan.sweeps
            else [{} for _ in range(n_items)]
        )
        self.controller = controller
        self.camera = camera  # a SimCamera device whose lighting follows the conditions
        self._current: dict[str, str] | None = None
        self._applied: dict[str, Any] = {}

    async def start(self) -> None:
        if self.controller is not None:
            await self.controller.connect()
            self._applied["controller"] = await self.controller.version()

    async def stop(self) -> None:
        if self.controller is not None:
            await self.controller.close()

    async def for_item(self, idx: int) -> dict[str, Any]:
        """Set (if they change) and return the conditions of item ``idx``."""
        wanted = self.schedule[idx] if idx < len(self.schedule) else {}
        if wanted != self._current:
            await self._apply(wanted)
            self._current = wanted
        out: dict[str, Any] = {**self.fixed, **self._applied}
        if self.controller is not None:
            out["sensor"] = await self.controller.read_sensor()
        return out

    async def _apply(self, wanted: dict[str, str]) -> None:
        applied = dict(wanted)
        if self.controller is not None and wanted:
            applied = await self.controller.set(**wanted)
        self._applied = {**{k: v for k, v in self._applied.items() if k == "controller"}, **applied}
        if self.camera is not None:
            if isinstance(self.controller, SimRigController):
                overrides = self.controller.overrides()
            else:
                overrides = overrides_for_conditions({k: str(v) for k, v in applied.items()})
            self.camera.apply_overrides(overrides)
