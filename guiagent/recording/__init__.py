"""Record a person's demo once, replay it after windows moved, and turn it into a skill.

``format`` owns the demo schema (load and save), ``recorder`` records, ``replay`` replays,
``skills`` makes skills from demos.
"""
