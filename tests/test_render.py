"""The book's rendering rules: one number format, CSVs that carry their provenance, numbered figures,
no empty table shown."""
import types

import re

import pandas as pd
import pytest

from lbsm.report import render


def _run(net, seed, precision="fp32", device="cpu (2 threads)", commit="abc1234"):
    return types.SimpleNamespace(name=f"{net}-{seed}", config=types.SimpleNamespace(net=net, seed=seed, precision=precision),
                                 meta={"precision": precision, "device": device, "commit": commit})


def _chapter(runs, profile="cpu"):
    return types.SimpleNamespace(runs={r.name: r for r in runs}, profile=types.SimpleNamespace(name=profile))


@pytest.mark.parametrize("mean, sd, sig, text", [
    (98.03, 0.07, None, "98.03 ± 0.07"),      # accuracy: 2 decimals
    (458.1, 22.7, 3, "458 ± 23"),            # 3 significant figures, the sd with the mean's decimals
    (1.56, 0.485, 3, "1.56 ± 0.48"),
    (0.317, 0.122, 3, "0.317 ± 0.122"),
    (0.1, 0.01, 3, "0.10 ± 0.01"),           # never "± 0.0" for a non-zero sd
    (0.11, 0.0, None, "0.11 ± 0.00"),
    (6.07, float("nan"), 3, "6.07"),         # one seed: no sd
])
def test_one_number_format(mean, sd, sig, text):
    assert render.pm(mean, sd, sig=sig) == text


def test_provenance_columns_name_the_runs_behind_each_row():
    runs = [_run("F1", 0), _run("F1", 1, commit="def5678"), _run("C1", 0, precision="bf16", device="H200")]
    C = _chapter(runs)
    per_net = render.with_provenance(pd.DataFrame({"net": ["F1", "C1"], "ours": [1.0, 2.0]}), C)
    assert per_net.to_dict("records") == [
        {"net": "F1", "ours": 1.0, "profile": "cpu", "seeds": "0 1", "precision": "fp32",
         "device": "cpu (2 threads)", "commit": "abc1234/def5678"},
        {"net": "C1", "ours": 2.0, "profile": "cpu", "seeds": "0", "precision": "bf16",
         "device": "H200", "commit": "abc1234"}]
    per_seed = render.with_provenance(pd.DataFrame({"net": ["F1"], "seed": [1], "v": [3.0]}), C)
    assert "seeds" not in per_seed and per_seed.commit.tolist() == ["def5678"]
    runs[1].name = "F1-twin"  # a row of one run (a twin of trial 1): that run's seed and commit
    per_run = render.with_provenance(pd.DataFrame({"net": ["F1"], "run": ["F1-twin"]}), C)
    assert per_run[["seeds", "commit"]].values.tolist() == [["1", "def5678"]]
    some = render.with_provenance(pd.DataFrame({"net": ["F1"], "seeds": ["0"]}), C)
    assert some[["seeds", "commit"]].values.tolist() == [["0", "abc1234"]]  # its trials' commit only
    kept = render.with_provenance(pd.DataFrame({"net": ["F1"], "precision": ["as stated"]}), C)
    assert kept.precision.tolist() == ["as stated"]  # a column the table has is its own
    paper = render.with_provenance(pd.DataFrame({"net": ["F1"]}), render.PAPER_SOURCE)
    assert paper.source.tolist() == [render.PAPER_SOURCE]
    assert render.with_provenance(pd.DataFrame({"a": [1]}), None).columns.tolist() == ["a"]


def test_the_intro_matches_a_verdict_row_to_its_artifacts_chapter():
    # F1 trained in fp32 for the gap chapter and in bf16 for the sensitivity study: Table 2's row
    # is of the gap chapter's runs only, a "Beyond" row of that chapter's
    book = {"gap": _chapter([_run("F1", 0)]),
            "sensitivity": _chapter([_run("F1", 1, precision="bf16", commit="bf16bf1")]),
            "beyond": _chapter([_run("F1", 3, commit="beyond1")])}
    rows = pd.DataFrame({"artifact": ["Table 2", "Beyond: LB + SAM", "Not an artifact"], "net": ["F1"] * 3})
    got = render.with_provenance(rows, book)
    assert got.precision.tolist() == ["fp32", "fp32", "bf16/fp32"]  # unknown artifact: every chapter's
    assert got.commit.tolist() == ["abc1234", "beyond1", "abc1234/beyond1/bf16bf1"]
    assert got.seeds.tolist() == ["0", "3", "0 1 3"]


def test_show_writes_the_csv_with_provenance_and_refuses_an_empty_table(tmp_path, monkeypatch):
    render.choose_csv_dir(tmp_path)  # as a chapter's first cell does with $LBSM_CSV_DIR (undone by conftest)
    C = _chapter([_run("F1", 0)])
    link = render.show(pd.DataFrame({"net": ["F1"], "ours": [1.5]}), name="ch/t", of=C)
    assert "ch/t.csv" in link.data and "(1 rows)" in link.data
    assert pd.read_csv(tmp_path / "ch/t.csv").columns.tolist()[-4:] == ["seeds", "precision", "device", "commit"]
    (tmp_path / "ch/empty.csv").write_text("\n")  # a stale file from a profile that ran it
    out = render.show(pd.DataFrame(), name="ch/empty", of=C)
    assert "No rows" in out.data and not (tmp_path / "ch/empty.csv").exists()


def test_figure_is_glued_under_its_label_and_its_csv_written(tmp_path, monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    render.choose_csv_dir(tmp_path)
    glued = {}
    import myst_nb
    monkeypatch.setattr(myst_nb, "glue", lambda key, value, display=True: glued.update({key: (value, display)}))
    from lbsm.report import style
    fig, ax = plt.subplots()
    ax.set_title("a title", fontsize=11)
    link = render.figure(fig, pd.DataFrame({"x": [1, 2]}), "ch/my_fig")
    assert render.figure_key("ch/my_fig") == "fig-ch-my-fig"
    assert list(glued) == ["fig-ch-my-fig"] and glued["fig-ch-my-fig"][1] is False
    assert "ch/my_fig.csv" in link.data
    assert not plt.fignum_exists(fig.number)  # closed: shown once, by the directive
    # glued as the PNG the page shows, its dpi and smallest text size in its metadata (the site
    # copies them onto the <img>, tests/test_browser.py reads them there)
    png = glued["fig-ch-my-fig"][0].data
    meta = style.png_metadata(png)
    assert meta["lbsm:dpi"] == str(style.DPI)
    assert float(meta["lbsm:min-font-pt"]) == style.MIN_FONT  # the tick labels, the smallest text


def test_every_figure_is_sized_for_the_page():
    """Every text of a figure at least MIN_FONT pt, so it reads at >= 8 pt when the page shows it
    in a 400 px wide window (352 px column) and at SHOWN_SCALE x its print size at 1366 px."""
    from lbsm.report import style
    assert style.MIN_FONT * style.NARROW_COLUMN_PX / (96 * style.WIDTH) >= 8
    fig, axes = style.rows(2)
    axes[0, 0].plot([1, 2], [1, 2], label="a line")
    axes[1, 0].plot([1, 2], [2, 1], label="another")
    style.legend_below(fig)
    assert style.min_font(fig) >= style.MIN_FONT
    assert fig.get_size_inches()[0] == style.WIDTH
    assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in fig.axes)  # off the data


def test_a_table_has_one_header_row_a_caption_and_unbroken_words():
    from lbsm.report import pagetable
    df = pd.DataFrame({"ours": ["98.03 ± 0.07", "97.81 ± 0.07", "1.2"],
                       "long_text": ["a sentence that is long enough to wrap at its spaces only, never inside",
                                     "L-BFGS-B stopped early", "x"]},
                      index=pd.MultiIndex.from_tuples([("F1", "SB"), ("F1", "LB"), ("C1", "SB")],
                                                      names=["net", "regime"]))
    html = pagetable.to_html(render.readable(df), pagetable.caption("gap/table2"))
    assert html.count("<tr>") == 4 and html.count("<thead>") == 1  # one header row, three rows
    assert "<th>net</th><th>regime</th><th>ours</th>" in html  # the index names in the one row
    assert 'rowspan="2"' in html  # F1 spans its two rows, as pandas groups a MultiIndex
    assert '<span class="lbsm-table-number">Table:</span> Final train' in html  # numbered by the site
    assert '<td class="lbsm-nowrap">98.03 ± 0.07</td>' in html  # a short column never wraps
    assert '<span class="lbsm-word">L-BFGS-B</span>' in html  # nor does a hyphenated word
    assert 'class="lbsm-table-scroll"' in html  # a wide table scrolls in its own box
    plain = pagetable.to_html(pd.DataFrame({"a": [1]}), "")
    assert "<th>a</th>" in plain and "<th scope" not in plain  # a default index is left out


def test_every_table_of_the_book_has_a_caption():
    import json
    import re
    from lbsm import book
    from lbsm.report import pagetable
    for chapter in book.existing():
        nb = json.loads(book.chapter_path(chapter).read_text())
        code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        for name in re.findall(r'report\.show\(.*?"([a-z_]+/[a-z0-9_]+)"', code):
            assert pagetable.caption(name), f"{chapter}: table {name} has no caption (lbsm.report.pagetable)"


def test_every_column_of_the_books_csvs_has_a_meaning_and_a_unit():
    from lbsm.report import datapage
    index = datapage.data_index()
    columns = datapage.column_dictionary(index)
    undocumented = [c for c in columns.index if not all(datapage.describe(c))]
    assert not undocumented, f"add them to lbsm.report.datapage.COLUMN_DOC: {undocumented}"
    assert "knee (paper, stated)" in columns.index  # a name with a comma is one column
    assert not columns.meaning.str.contains("see that table").any()


def test_every_entry_of_the_column_dictionary_has_a_meaning_and_a_unit():
    """Every entry, used by a CSV now or not: a meaning, a unit ("none" for labels, flags and
    ratios), and no placeholder in place of either."""
    from lbsm.report import datapage
    entries = dict(datapage.COLUMN_DOC)
    entries.update({pattern: (meaning, unit) for pattern, meaning, unit in datapage.PATTERNS})
    placeholder = re.compile(r"see (that|the) (table|chapter)|not documented|\?\?|^\s*(tbd|todo|-|—)\s*$", re.I)
    bad = [c for c, (meaning, unit) in entries.items()
           if not meaning.strip() or not unit.strip() or placeholder.search(meaning) or placeholder.search(unit)]
    assert not bad, f"entries of lbsm.report.datapage without a meaning or a unit: {bad}"
    rendered = datapage.column_dictionary(datapage.data_index())
    assert not rendered.meaning.str.contains("not documented").any()
    assert not rendered.unit.str.contains("not documented").any()


def test_dot_plots_draw_ours_against_the_paper():
    import matplotlib
    matplotlib.use("Agg")
    from lbsm.experiments.specs import ConeSpec
    from lbsm.report import dots
    knees = pd.DataFrame({"knee / training set (ours)": [0.1], "knee / training set (paper)": [0.02],
                          "knee (paper curve, our rule)": [8400.0], "knee (paper, stated)": [15000.0],
                          "paper net": ["F2"]}, index=pd.Index(["F1"], name="net"))
    ax = dots.plot_knees(knees).axes[0]
    xs = sorted(x for line in ax.lines for x in line.get_xdata())
    assert xs[-1] == pytest.approx(0.1) and xs[0] == pytest.approx(0.02 * 8400 / 15000)
    data = pd.DataFrame({"net": ["F1"] * 4, "label": ["SB", "SB", "LB", "LB"], "relative": [0.0, 0.6, 0.1, 0.2],
                         "steep": [False, True, False, False]})
    fig = dots.plot_cone(types.SimpleNamespace(data=data, specs={"F1": ConeSpec("F1")}))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts[0].startswith("steep: 50 % of 2") and texts[1].startswith("steep: 0 % of 2")
    summ = pd.DataFrame({"choice": ["start", "start"], "setting": ["sign", "zero"], "baseline": [True, False],
                         "sharpness_sb": [4.0, 1.5], "sharpness_lb": [450.0, 190.0]})
    summ.attrs.update(net="F1", eps=1e-3)
    ax = dots.plot_closing(summ).axes[0]
    box = ax.patches[0]  # the paper's Table 3 F1 box: SB 1.23 ± 2 x 0.83, LB 205.14 ± 2 x 69.52
    assert box.get_x() + box.get_width() == pytest.approx(1.23 + 2 * 0.83)
    assert box.get_y() + box.get_height() == pytest.approx(205.14 + 2 * 69.52)


def test_a_table_from_two_profiles_takes_each_rows_runs_from_its_own_profile():
    earlier = _chapter([_run("F1", 0, commit="aaa1111")], profile="cpu")
    adopted = _chapter([_run("F1", 0, commit="bbb2222"), _run("F1", 1, commit="bbb2222")], profile="cpu-v2")
    rows = pd.DataFrame({"net": ["F1", "F1"], "profile": ["cpu-v2", "cpu"], "v": [1.0, 2.0]})
    got = render.with_provenance(rows, [earlier, adopted])
    assert got[["profile", "seeds", "commit"]].values.tolist() == [["cpu-v2", "0 1", "bbb2222"],
                                                                   ["cpu", "0", "aaa1111"]]
    with pytest.raises(ValueError, match="needs a profile column"):
        render.with_provenance(rows.drop(columns="profile"), [earlier, adopted])
