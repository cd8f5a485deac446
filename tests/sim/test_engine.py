"""The event core: ordering by (time, priority, insertion) and refusal to go back in time."""

from __future__ import annotations

import pytest

from edgecloud.sim.engine import Event, Simulation, SimulationError


class Note(Event):
    __slots__ = ("follow_up", "label", "log")

    def __init__(self, time, label, log, *, follow_up=None):
        super().__init__(time)
        self.label = label
        self.log = log
        self.follow_up = follow_up

    def handle(self):
        self.log.append((self.time, self.label))
        return self.follow_up


class Early(Note):
    __slots__ = ()
    PRIORITY = -1


def test_events_run_by_time_then_priority_then_insertion():
    log: list = []
    simulation = Simulation()
    simulation.schedule_all(
        [
            Note(2.0, "late", log),
            Note(1.0, "first-inserted", log),
            Note(1.0, "second-inserted", log),
            Early(1.0, "early-priority", log),
        ]
    )
    simulation.run()
    assert log == [
        (1.0, "early-priority"),
        (1.0, "first-inserted"),
        (1.0, "second-inserted"),
        (2.0, "late"),
    ]
    assert simulation.now == 2.0 and simulation.events_handled == 4


def test_follow_up_events_and_until():
    log: list = []
    simulation = Simulation()
    simulation.schedule(Note(1.0, "a", log, follow_up=[Note(3.0, "b", log)]))
    simulation.run(until=2.0)
    assert log == [(1.0, "a")] and len(simulation) == 1
    simulation.run()
    assert log == [(1.0, "a"), (3.0, "b")]


def test_scheduling_in_the_past_is_an_error():
    log: list = []
    simulation = Simulation()
    simulation.schedule(Note(5.0, "a", log, follow_up=[Note(4.0, "past", log)]))
    with pytest.raises(SimulationError, match="before the current time"):
        simulation.run()
    with pytest.raises(SimulationError):
        simulation.schedule(Note(float("nan"), "nan", log))


def test_two_simulations_are_independent():
    first, second = Simulation(), Simulation()
    log_a: list = []
    log_b: list = []
    first.schedule(Note(1.0, "a", log_a))
    second.schedule(Note(7.0, "b", log_b))
    first.run()
    assert first.now == 1.0 and second.now == 0.0 and log_b == []
