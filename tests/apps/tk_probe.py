"""A real X client for integration tests: a Tk window that reports every event it receives.

Run as ``python tk_probe.py REPORT.jsonl [--geometry WxH+X+Y] [--title T]``. It writes one JSON
object per line: ``ready`` (with the window's screen position), ``click`` (button, count, screen
and window coordinates), ``key`` (keysym and character), ``scroll``, ``drag`` (press/motion/release)
and ``text`` (the entry's whole content after every change). Tests read the lines to assert the
client received exactly what was sent.
"""

from __future__ import annotations

import argparse
import json
import sys
import tkinter as tk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("report")
    parser.add_argument("--geometry", default="900x600+200+150")
    parser.add_argument("--title", default="guiagent-probe")
    parser.add_argument("--buttons", default="",
                        help="comma-separated button labels; a press reports {'event': 'button'}")
    parser.add_argument("--font-size", type=int, default=11, help="button font size (points)")
    args = parser.parse_args()
    out = open(args.report, "a", encoding="utf-8", buffering=1)

    def emit(kind: str, **data: object) -> None:
        out.write(json.dumps({"event": kind, **data}, ensure_ascii=False) + "\n")

    root = tk.Tk()
    root.title(args.title)
    root.geometry(args.geometry)
    text = tk.Text(root, height=3, font=("DejaVu Sans", 16))
    text.pack(fill="x", padx=10, pady=10)
    buttons: dict[str, tk.Button] = {}
    if args.buttons:
        row = tk.Frame(root)
        row.pack(fill="x", padx=10)
        for label in args.buttons.split(","):
            button = tk.Button(row, text=label, font=("DejaVu Sans", args.font_size),
                               command=lambda name=label: emit("button", label=name))
            button.pack(side="left", padx=12, pady=6)
            buttons[label] = button
    canvas = tk.Canvas(root, background="#3060c0", highlightthickness=0)
    canvas.pack(fill="both", expand=True, padx=10, pady=10)

    wheel = {4: "up", 5: "down", 6: "left", 7: "right"}

    def on_press(event: tk.Event, count: int) -> None:
        widget = "canvas" if event.widget is canvas else "text"
        if event.num in wheel:  # Tk reports fast repeated notches as "double" presses
            emit("scroll", direction=wheel[event.num], x_root=event.x_root,
                 y_root=event.y_root, widget=widget)
            return
        emit("click", button=event.num, count=count, x_root=event.x_root, y_root=event.y_root,
             widget=widget)

    for widget in (canvas, text):
        widget.bind("<ButtonPress>", lambda e: on_press(e, 1), add="+")
        widget.bind("<Double-ButtonPress>", lambda e: on_press(e, 2), add="+")
    canvas.bind("<B1-Motion>", lambda e: emit("motion", x_root=e.x_root, y_root=e.y_root))
    canvas.bind("<ButtonRelease-1>", lambda e: emit("release", x_root=e.x_root, y_root=e.y_root))
    root.bind_all("<KeyPress>", lambda e: emit("key", keysym=e.keysym, char=e.char,
                                               state=e.state))

    def on_modified(_event: object) -> None:
        emit("text", value=text.get("1.0", "end-1c"))
        text.edit_modified(False)

    text.bind("<<Modified>>", on_modified)

    def ready() -> None:
        root.update_idletasks()
        boxes = {label: [b.winfo_rootx(), b.winfo_rooty(), b.winfo_width(), b.winfo_height()]
                 for label, b in buttons.items()}
        emit("ready", buttons=boxes, text_x=text.winfo_rootx(), text_y=text.winfo_rooty(),
             text_w=text.winfo_width(), text_h=text.winfo_height(),
             canvas_x=canvas.winfo_rootx(), canvas_y=canvas.winfo_rooty(),
             canvas_w=canvas.winfo_width(), canvas_h=canvas.winfo_height())

    root.after(300, ready)
    root.mainloop()
    sys.exit(0)


if __name__ == "__main__":
    main()
