"""The book's figure style, in one place: sizes in inches matched to the page's content column,
font sizes that read at 8 pt or more where the page shows a figure (1366 and 400 px wide windows),
panels laid out in rows, legends outside the data, and the PNG each figure is shown as, with its
dpi and its smallest text size written into the PNG's metadata (``lbsm:dpi``,
``lbsm:min-font-pt``), which the site copies onto the page's ``<img>`` (``book/_ext``) and
``tests/test_browser.py`` checks.

The arithmetic: a figure ``WIDTH`` inches wide is shown at ``SHOWN_SCALE`` times its print size
where the content column allows (456 CSS px), else at the column's width: 337 CSS px in a 400 px
window with a 15 px scrollbar (352 without). Its text of ``s`` pt then reads as
``s * shown_px / (96 * WIDTH)`` pt: ``MIN_FONT`` 9 pt reads as 11.25 pt at 1366 px and 8.3 pt at
400 px.
"""
from __future__ import annotations

import io
import textwrap

DPI = 150
WIDTH = 3.8          # inches: every figure (one panel per row; at most two panels side by side)
PANEL = 2.6          # inches: the height of one panel
NARROW_COLUMN_PX = 337   # CSS px: the content column of a 400 px wide window with a scrollbar (measured)
SHOWN_SCALE = 1.25   # the site shows a figure at this multiple of its print size, column allowing
MIN_FONT = 9         # pt: no text smaller (8.3 pt at 400 px, see above)
STYLE = {"figure.dpi": DPI, "savefig.dpi": DPI, "figure.figsize": (WIDTH, PANEL),
         "figure.constrained_layout.use": True, "font.size": 10, "axes.titlesize": 10,
         "axes.labelsize": 10, "xtick.labelsize": MIN_FONT, "ytick.labelsize": MIN_FONT,
         "legend.fontsize": MIN_FONT, "legend.title_fontsize": MIN_FONT, "figure.titlesize": 10,
         "legend.frameon": False}


def apply() -> None:
    """Set the book's rcParams (every figure module imports this module, which applies them)."""
    import matplotlib
    matplotlib.rcParams.update(STYLE)


apply()


def rows(n: int, ncols: int = 1, height: float = PANEL, **kw):
    """``(fig, axes)``: ``n`` rows of ``ncols`` panels (axes as a 2-d array), ``WIDTH`` wide."""
    import matplotlib.pyplot as plt
    n = max(1, n)
    return plt.subplots(n, ncols, figsize=(WIDTH, height * n), squeeze=False, layout="constrained", **kw)


def wrap(text: str, width: int = 40) -> str:
    """``text`` broken at spaces into lines of at most ``width`` characters (titles, labels)."""
    return "\n".join(textwrap.wrap(str(text), width, break_on_hyphens=False)) or str(text)


def legend_below(fig, ncol: int = 2, axes=None) -> None:
    """One legend for the whole figure, under its panels (outside every axes), each label once,
    from the labelled artists of ``axes`` (default: every axes of ``fig``); in fewer columns when
    ``ncol`` of them would be wider than the figure. The figure grows by the legend's height, so
    the panels keep theirs."""
    seen = {}
    for ax in (axes if axes is not None else fig.axes):
        for h, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, h)
    if not seen:
        return
    renderer = fig.canvas.get_renderer()
    for n in range(min(ncol, len(seen)), 0, -1):
        legend = fig.legend(list(seen.values()), list(seen.keys()), loc="outside lower center",
                            ncol=n, frameon=False)
        box = legend.get_window_extent(renderer)
        if n == 1 or box.width <= fig.bbox.width:
            break
        legend.remove()
    width, height = fig.get_size_inches()
    fig.set_size_inches(width, height + box.height / fig.dpi + 0.1)


def tidy(fig) -> None:
    """No minor tick labels on a log axis (they crowd a narrow panel); where the view holds fewer
    than two powers of ten, ticks at 1, 2 and 5 times them instead, so a scale is still read."""
    import math
    from matplotlib.ticker import LogLocator, NullFormatter
    for ax in fig.axes:
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale != "log":
                continue
            lo, hi = sorted(axis.get_view_interval())
            if lo > 0 and math.floor(math.log10(hi)) - math.ceil(math.log10(lo)) < 1:
                axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            axis.set_minor_formatter(NullFormatter())


def finish(fig, ncol: int = 2):
    """The figure ready for the page: log axes tidied, one legend under the panels, closed (it is
    shown by ``lbsm.report.render.figure``)."""
    import matplotlib.pyplot as plt
    tidy(fig)
    legend_below(fig, ncol=ncol)
    plt.close(fig)
    return fig


def thin_ticks(ax, n: int = 4) -> None:
    """At most ``n`` labelled ticks on the x axis of a narrow panel; no minor labels on a log axis."""
    from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter
    if ax.get_xscale() == "log":
        ax.xaxis.set_major_locator(LogLocator(numticks=n))
        ax.xaxis.set_minor_formatter(NullFormatter())
    elif ax.get_xscale() == "linear":
        ax.xaxis.set_major_locator(MaxNLocator(n))


def min_font(fig) -> float:
    """The smallest size (pt) of any text the figure draws (titles, labels, ticks, legends,
    annotations), after a draw so that the tick labels exist."""
    from matplotlib.text import Text
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return float(min(sizes)) if sizes else float(MIN_FONT)


def png(fig) -> bytes:
    """The figure as the page shows it: a PNG at ``DPI`` whose metadata records the dpi and the
    smallest text size (byte-deterministic: a re-render over the same results writes the same
    bytes)."""
    smallest = min_font(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI,
                metadata={"lbsm:dpi": str(DPI), "lbsm:min-font-pt": f"{smallest:g}"})
    return buf.getvalue()


def png_metadata(data: bytes) -> dict[str, str]:
    """The tEXt entries of a PNG (``png`` writes ``lbsm:dpi`` and ``lbsm:min-font-pt``)."""
    import struct
    import zlib
    out, i = {}, 8
    while i + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[i:i + 8])
        body = data[i + 8:i + 8 + length]
        if kind == b"tEXt" and b"\0" in body:
            key, value = body.split(b"\0", 1)
            out[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt" and b"\0" in body:
            key, value = body.split(b"\0", 1)
            out[key.decode("latin-1")] = zlib.decompress(value[1:]).decode("latin-1")
        elif kind == b"IEND":
            break
        i += 12 + length
    return out
