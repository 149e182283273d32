"""A Tk application for the dev set ("Photo Batch", an image converter) that reports its own
widget geometry: the ground truth for a non-browser toolkit.

Run as ``python tkapp.py REPORT.json --geometry WxH+X+Y [--theme light|dark] [--font-px N]
[--scale S]``. Once the window is mapped and drawn it writes REPORT.json with ``samples`` (each
``kind`` text|icon, ``instruction``, ``text``, ``rect`` [x1, y1, x2, y2] in screen pixels from
``winfo_rootx``/``winfo_rooty``/``bbox``) and ``texts`` (every visible string with its rect).
The generator reads it; nothing here looks at pixels.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import math
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import font as tkfont
from tkinter import ttk
from typing import Any

from PIL import Image, ImageDraw

THEMES = {
    "light": {"bg": "#eceff3", "fg": "#1d232b", "field": "#ffffff", "accent": "#2f6fd0",
              "border": "#b9c1cc", "select": "#cfe0fa"},
    "dark": {"bg": "#23272e", "fg": "#e3e7ee", "field": "#15181d", "accent": "#5b9cf5",
             "border": "#48505c", "select": "#2d4a73"},
}

Draw = Callable[[ImageDraw.ImageDraw, float, str], None]


def _icon_folder(d: ImageDraw.ImageDraw, s: float, c: str) -> None:
    d.polygon([(3 * s, 7 * s), (9 * s, 7 * s), (11 * s, 9 * s), (21 * s, 9 * s),
               (21 * s, 19 * s), (3 * s, 19 * s)], outline=c, width=max(1, round(2 * s)))


def _icon_save(d: ImageDraw.ImageDraw, s: float, c: str) -> None:
    w = max(1, round(2 * s))
    d.rectangle([4 * s, 4 * s, 20 * s, 20 * s], outline=c, width=w)
    d.rectangle([8 * s, 4 * s, 16 * s, 9 * s], outline=c, width=w)
    d.rectangle([7 * s, 13 * s, 17 * s, 20 * s], outline=c, width=w)


def _rotate(direction: int) -> Draw:
    def draw(d: ImageDraw.ImageDraw, s: float, c: str) -> None:
        w = max(1, round(2 * s))
        start, end = (200, 500) if direction > 0 else (40, 340)
        d.arc([4 * s, 4 * s, 20 * s, 20 * s], start, end, fill=c, width=w)
        angle = math.radians(end if direction > 0 else start)
        x, y = 12 * s + 8 * s * math.cos(angle), 12 * s + 8 * s * math.sin(angle)
        d.polygon([(x - 3 * s, y - 3 * s), (x + 3 * s, y - 3 * s), (x, y + 2 * s)], fill=c)
    return draw


def _icon_crop(d: ImageDraw.ImageDraw, s: float, c: str) -> None:
    w = max(1, round(2 * s))
    d.line([(7 * s, 2 * s), (7 * s, 17 * s), (22 * s, 17 * s)], fill=c, width=w)
    d.line([(2 * s, 7 * s), (17 * s, 7 * s), (17 * s, 22 * s)], fill=c, width=w)


def _zoom(plus: bool) -> Draw:
    def draw(d: ImageDraw.ImageDraw, s: float, c: str) -> None:
        w = max(1, round(2 * s))
        d.ellipse([3 * s, 3 * s, 16 * s, 16 * s], outline=c, width=w)
        d.line([(14 * s, 14 * s), (21 * s, 21 * s)], fill=c, width=w + 1)
        d.line([(6.5 * s, 9.5 * s), (12.5 * s, 9.5 * s)], fill=c, width=w)
        if plus:
            d.line([(9.5 * s, 6.5 * s), (9.5 * s, 12.5 * s)], fill=c, width=w)
    return draw


def _icon_trash(d: ImageDraw.ImageDraw, s: float, c: str) -> None:
    w = max(1, round(2 * s))
    d.line([(4 * s, 7 * s), (20 * s, 7 * s)], fill=c, width=w)
    d.rectangle([9 * s, 4 * s, 15 * s, 7 * s], outline=c, width=w)
    d.polygon([(6 * s, 7 * s), (18 * s, 7 * s), (17 * s, 20 * s), (7 * s, 20 * s)],
              outline=c, width=w)


def _icon_gear(d: ImageDraw.ImageDraw, s: float, c: str) -> None:
    w = max(1, round(2 * s))
    for k in range(8):
        a = math.radians(k * 45)
        d.line([(12 * s + 6 * s * math.cos(a), 12 * s + 6 * s * math.sin(a)),
                (12 * s + 10 * s * math.cos(a), 12 * s + 10 * s * math.sin(a))],
               fill=c, width=w + 1)
    d.ellipse([6 * s, 6 * s, 18 * s, 18 * s], outline=c, width=w)
    d.ellipse([10 * s, 10 * s, 14 * s, 14 * s], outline=c, width=w)


def _icon_play(d: ImageDraw.ImageDraw, s: float, c: str) -> None:
    d.polygon([(7 * s, 4 * s), (20 * s, 12 * s), (7 * s, 20 * s)], fill=c)


def _icon_flip(d: ImageDraw.ImageDraw, s: float, c: str) -> None:
    w = max(1, round(2 * s))
    d.line([(12 * s, 2 * s), (12 * s, 22 * s)], fill=c, width=w)
    d.polygon([(10 * s, 5 * s), (3 * s, 19 * s), (10 * s, 19 * s)], outline=c, width=w)
    d.polygon([(14 * s, 5 * s), (21 * s, 19 * s), (14 * s, 19 * s)], fill=c)


ICONS: dict[str, tuple[str, Draw]] = {
    "open": ("Open folder", _icon_folder),
    "save": ("Save settings", _icon_save),
    "rotl": ("Rotate left", _rotate(-1)),
    "rotr": ("Rotate right", _rotate(1)),
    "flip": ("Flip horizontally", _icon_flip),
    "crop": ("Crop", _icon_crop),
    "zin": ("Zoom in", _zoom(True)),
    "zout": ("Zoom out", _zoom(False)),
    "del": ("Remove from batch", _icon_trash),
    "prefs": ("Preferences", _icon_gear),
    "run": ("Start conversion", _icon_play),
}


def icon_image(draw: Draw, size: int, color: str) -> tk.PhotoImage:
    scale = 4  # draw large, shrink: smooth edges
    image = Image.new("RGBA", (size * scale, size * scale), (0, 0, 0, 0))
    draw(ImageDraw.Draw(image), size * scale / 24, color)
    image = image.resize((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return tk.PhotoImage(data=base64.b64encode(buffer.getvalue()).decode())


class App:
    def __init__(self, root: tk.Tk, theme: str, font_px: int, scale: float) -> None:
        self.root = root
        self.colors = THEMES[theme]
        self.font_px = round(font_px * scale)
        self.scale = scale
        self.samples: list[tuple[str, str, tk.Misc, str | None]] = []  # kind, instruction, w, text
        self.images: list[tk.PhotoImage] = []  # Tk forgets images nobody references
        self.variables: list[tk.Variable] = []
        self._style()
        self._build()

    def _style(self) -> None:
        c = self.colors
        for name in ("TkDefaultFont", "TkTextFont", "TkMenuFont", "TkHeadingFont"):
            tkfont.nametofont(name).configure(family="DejaVu Sans", size=-self.font_px)
        self.root.configure(background=c["bg"])
        style = ttk.Style(self.root)
        style.theme_use("clam")
        style.configure(".", background=c["bg"], foreground=c["fg"], fieldbackground=c["field"],
                        bordercolor=c["border"], lightcolor=c["bg"], darkcolor=c["bg"],
                        troughcolor=c["field"], selectbackground=c["select"],
                        selectforeground=c["fg"], insertcolor=c["fg"])
        pad = round(4 * self.scale)
        style.configure("TButton", padding=(3 * pad, pad))
        style.configure("Tool.TButton", padding=pad)
        style.configure("Accent.TButton", background=c["accent"], foreground=c["field"])
        style.map("TButton", background=[("active", c["select"])])
        style.configure("TLabelframe.Label", foreground=c["fg"])
        style.configure("Treeview", rowheight=round(self.font_px * 1.9), background=c["field"],
                        foreground=c["fg"], fieldbackground=c["field"])
        style.map("Treeview", background=[("selected", c["select"])],
                  foreground=[("selected", c["fg"])])
        style.configure("Treeview.Heading", background=c["bg"], foreground=c["fg"])

    def _add(self, kind: str, widget: tk.Misc, instruction: str, text: str | None = None) -> None:
        self.samples.append((kind, instruction, widget, text))

    def _button(self, parent: tk.Misc, text: str, **kw: Any) -> ttk.Button:
        button = ttk.Button(parent, text=text, **kw)
        self._add("text", button, text, text)
        return button

    def _build(self) -> None:
        c, s = self.colors, self.scale
        pad = round(6 * s)
        menubar = tk.Frame(self.root, background=c["bg"])
        menubar.pack(fill="x")
        for name in ("File", "Edit", "Image", "Batch", "Help"):
            mb = tk.Menubutton(menubar, text=name, background=c["bg"], foreground=c["fg"],
                               activebackground=c["select"], padx=round(8 * s),
                               pady=round(3 * s))
            mb.pack(side="left")
            self._add("text", mb, name, name)
        ttk.Separator(self.root).pack(fill="x")

        toolbar = ttk.Frame(self.root, padding=round(3 * s))
        toolbar.pack(fill="x")
        icon_px = round(self.font_px * 1.5)
        for key in ("open", "save", None, "rotl", "rotr", "flip", "crop", None, "zin", "zout",
                    None, "del", "prefs"):
            if key is None:
                ttk.Separator(toolbar, orient="vertical").pack(side="left", fill="y", padx=pad)
                continue
            description, draw = ICONS[key]
            image = icon_image(draw, icon_px, c["fg"])
            self.images.append(image)
            button = ttk.Button(toolbar, image=image, style="Tool.TButton")
            button.pack(side="left", padx=1)
            self._add("icon", button, description)

        body = ttk.Frame(self.root, padding=pad)
        body.pack(fill="both", expand=True)
        left = ttk.Frame(body)
        left.pack(side="left", fill="both", expand=True)
        heading = ttk.Label(left, text="Source images")
        heading.pack(anchor="w")
        self._add("text", heading, "Source images", "Source images")
        tree = ttk.Treeview(left, columns=("size", "dims"), show="headings", height=12)
        tree.heading("size", text="File size")
        tree.heading("dims", text="Dimensions")
        tree.configure(columns=("name", "size", "dims"))
        for col, title, width in (("name", "File name", 16), ("size", "File size", 8),
                                  ("dims", "Dimensions", 10)):
            tree.heading(col, text=title)
            tree.column(col, width=round(width * self.font_px * 0.75), anchor="w")
        files = [("IMG_0412.jpg", "4.2 MB", "6000×4000"), ("IMG_0413.jpg", "3.9 MB", "6000×4000"),
                 ("harbour_pano.tif", "88.1 MB", "21400×3900"), ("ramp_detail.png", "12.7 MB",
                 "4032×3024"), ("buoy_07.jpg", "2.1 MB", "4000×3000"), ("crew_photo.heic",
                 "1.6 MB", "4032×3024"), ("sketch_scan.bmp", "36.0 MB", "5100×7000"),
                 ("sunset_quay.jpg", "5.5 MB", "6000×4000")]
        self.tree_items = [tree.insert("", "end", values=row) for row in files]
        tree.selection_set(self.tree_items[2])
        tree.pack(fill="both", expand=True, pady=(pad, 0))
        self.tree = tree

        right = ttk.Frame(body, padding=(pad * 2, 0, 0, 0))
        right.pack(side="left", fill="y")
        output = ttk.Labelframe(right, text="Output", padding=pad)
        output.pack(fill="x")
        row = ttk.Frame(output)
        row.pack(fill="x", pady=2)
        label = ttk.Label(row, text="Destination:")
        label.pack(side="left")
        self._add("text", label, "Destination:", "Destination:")
        entry = ttk.Entry(row, width=22)
        entry.insert(0, "/home/sam/exports/web")
        entry.pack(side="left", padx=pad)
        self.entry = entry
        self._button(row, "Browse…").pack(side="left")
        row = ttk.Frame(output)
        row.pack(fill="x", pady=2)
        fmt = tk.StringVar(value="WebP")
        self.variables.append(fmt)
        for name in ("JPEG", "PNG", "WebP", "AVIF"):
            rb = ttk.Radiobutton(row, text=name, value=name, variable=fmt)
            rb.pack(side="left", padx=(0, pad))
            self._add("text", rb, name, name)
        for text, on in (("Keep EXIF metadata", True), ("Overwrite existing files", False),
                         ("Strip colour profile", False), ("Open folder when done", True)):
            var = tk.BooleanVar(value=on)
            cb = ttk.Checkbutton(output, text=text, variable=var)
            cb.pack(anchor="w", pady=1)
            self._add("text", cb, text, text)
            self.variables.append(var)

        resize = ttk.Labelframe(right, text="Resize", padding=pad)
        resize.pack(fill="x", pady=pad)
        row = ttk.Frame(resize)
        row.pack(fill="x")
        label = ttk.Label(row, text="Longest side (px)")
        label.pack(side="left")
        self._add("text", label, "Longest side (px)", "Longest side (px)")
        spin = ttk.Spinbox(row, from_=100, to=10000, width=7)
        spin.set("2048")
        spin.pack(side="left", padx=pad)
        row = ttk.Frame(resize)
        row.pack(fill="x", pady=(pad, 0))
        label = ttk.Label(row, text="Quality")
        label.pack(side="left")
        self._add("text", label, "Quality", "Quality")
        scale = ttk.Scale(row, from_=0, to=100, value=82, length=round(160 * s))
        scale.pack(side="left", padx=pad)
        self._add("icon", scale, "quality slider")
        ttk.Label(row, text="82 %").pack(side="left")

        actions = ttk.Frame(self.root, padding=pad)
        actions.pack(fill="x")
        status = ttk.Label(actions, text="8 images, 1 selected, 154 MB in total")
        status.pack(side="left")
        for text in ("Close", "Preview", "Convert all"):
            self._button(actions, text, style="Accent.TButton" if text == "Convert all"
                         else "TButton").pack(side="right", padx=(pad, 0))
        self.progress = ttk.Progressbar(actions, length=round(180 * s), value=35)
        self.progress.pack(side="right", padx=pad)
        self._add("icon", self.progress, "conversion progress bar")

    # -- report -----------------------------------------------------------------------------
    @staticmethod
    def _rect(widget: tk.Misc) -> list[int]:
        x, y = widget.winfo_rootx(), widget.winfo_rooty()
        return [x, y, x + widget.winfo_width(), y + widget.winfo_height()]

    def report(self) -> dict[str, Any]:
        # Widgets the packer had no room for are not shown: leave them out.
        samples = [{"kind": kind, "instruction": instruction, "text": text,
                    "rect": self._rect(widget), "lines": 1, "on_top": 1.0,
                    "tag": widget.winfo_class()}
                   for kind, instruction, widget, text in self.samples
                   if widget.winfo_viewable()]
        # Tree rows and headings: boxes from the widget itself (bbox of a cell).
        tx, ty = self.tree.winfo_rootx(), self.tree.winfo_rooty()
        for item in self.tree_items:
            bbox = self.tree.bbox(item, "name")
            if not bbox:
                continue
            x, y, w, h = bbox
            name = str(self.tree.set(item, "name"))
            samples.append({"kind": "text", "instruction": name, "text": name,
                            "rect": [tx + x, ty + y, tx + x + w, ty + y + h], "lines": 1,
                            "on_top": 1.0, "tag": "Treeview.cell"})
        texts = [{"text": s["text"], "rect": s["rect"]} for s in samples if s["text"]]
        for item in self.tree_items:
            for col in ("size", "dims"):
                bbox = self.tree.bbox(item, col)
                if bbox:
                    x, y, w, h = bbox
                    texts.append({"text": str(self.tree.set(item, col)),
                                  "rect": [tx + x, ty + y, tx + x + w, ty + y + h]})
        for text in ("File name", "File size", "Dimensions", "Output", "Resize", "82 %",
                     "8 images, 1 selected, 154 MB in total", self.entry.get()):
            texts.append({"text": text, "rect": None})
        return {"title": self.root.title(), "window_id": int(self.root.winfo_id()),
                "samples": samples, "texts": texts}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("report", type=Path)
    parser.add_argument("--geometry", default="1600x1000+100+100")
    parser.add_argument("--theme", default="light", choices=sorted(THEMES))
    parser.add_argument("--font-px", type=int, default=13)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    root = tk.Tk(className="PhotoBatch")
    root.title("Photo Batch")
    root.geometry(args.geometry)
    app = App(root, args.theme, args.font_px, args.scale)

    def write_report() -> None:
        root.update_idletasks()
        tmp = args.report.with_suffix(".tmp")
        tmp.write_text(json.dumps(app.report()), encoding="utf-8")
        tmp.replace(args.report)  # the generator never sees half a file

    def when_mapped(_event: object) -> None:
        root.unbind("<Map>")
        root.after(300, write_report)

    root.bind("<Map>", when_mapped)
    root.mainloop()


if __name__ == "__main__":
    main()
