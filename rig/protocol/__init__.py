"""The capture protocol (docs/protocol.md): desktop ↔ phone handshake, upload, simulated phone.

The sans-I/O core (``messages``, ``auth``, ``desktop``, ``phone``, ``events``, ``timers``,
``faults``, ``compat``) never touches sockets or clocks; ``udp``, ``upload``, ``endpoint``,
``phonesim``, ``netem`` and ``chexpeditor`` are the thin I/O around it.
"""
