"""The window the README's Python examples act on (tests/test_readme.py).

``python readme_app.py REPORT.jsonl``: a "Save" button that shows "Saved" when pressed, a gear
icon (a drawn picture, found by template) that puts the focus in the name field, and a "Name"
label that, like an HTML label, focuses its field when clicked. Every event is one JSON line.
"""

from __future__ import annotations

import json
import sys
import tkinter as tk


def main() -> None:
    out = open(sys.argv[1], "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (lives as long as the app)

    def emit(kind: str, **data: object) -> None:
        out.write(json.dumps({"event": kind, **data}, ensure_ascii=False) + "\n")

    root = tk.Tk()
    root.title("guiagent-readme")
    root.geometry("1400x700+900+500")
    font = ("DejaVu Sans", 18)
    saved = tk.Label(root, text="", font=font)

    def save() -> None:
        saved.config(text="Saved")
        emit("save")

    tk.Button(root, text="Save", font=font, command=save).place(x=40, y=40)
    saved.place(x=300, y=48)

    gear = tk.Canvas(root, width=120, height=120, highlightthickness=0, bg="#f0f0f0")
    gear.place(x=40, y=200)
    for x0, y0, x1, y1 in ((52, 2, 68, 24), (96, 52, 118, 68), (52, 96, 68, 118), (2, 52, 24, 68)):
        gear.create_rectangle(x0, y0, x1, y1, fill="#555", outline="")  # the teeth
    gear.create_oval(14, 14, 106, 106, fill="#555", outline="")
    gear.create_oval(42, 42, 78, 78, fill="#f0f0f0", outline="")
    gear.create_polygon(60, 48, 72, 70, 48, 70, fill="#c33", outline="")

    name_label = tk.Label(root, text="Name", font=font)
    name_label.place(x=40, y=400)
    entry = tk.Entry(root, font=font, width=30)
    entry.place(x=200, y=400)

    def focus_entry(source: str) -> None:
        entry.focus_set()
        emit("focus", source=source)

    gear.bind("<Button-1>", lambda _e: focus_entry("gear"))
    name_label.bind("<Button-1>", lambda _e: focus_entry("label"))
    entry.bind("<KeyRelease>", lambda _e: emit("text", value=entry.get()))
    root.after(300, lambda: emit("ready"))
    root.mainloop()


if __name__ == "__main__":
    main()
