"""Executes the notebook that matches a folder (run, study or sensitivity grid)
with the folder as its parameter, and writes FOLDER/report.html (figures
embedded, code hidden, nothing loaded from the network) beside the figures the notebook saved in FOLDER/figures/.
    python notebooks/report.py FOLDER
A figure whose input is missing becomes a sentence; a failing cell fails the
report with its error."""
import os
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

HERE = os.path.dirname(os.path.abspath(__file__))


def kind(folder):
    if os.path.exists(os.path.join(folder, "sensitivity.csv")):
        return "sensitivity"
    if os.path.exists(os.path.join(folder, "journal.jsonl")):
        return "study"
    return "run"


def inject(nb, folder):
    """After the cell tagged "parameters", as papermill does."""
    at = next((i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), -1)
    cell = nbformat.v4.new_code_cell(f"folder = {folder!r}")
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(at + 1, cell)


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit("usage: report.py FOLDER (a run, study or sensitivity folder)")
    folder = os.path.abspath(sys.argv[1])
    t0 = time.time()
    name = kind(folder)
    nb = nbformat.read(os.path.join(HERE, f"{name}.ipynb"), as_version=4)
    inject(nb, folder)
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": HERE}}).execute()
    exporter = HTMLExporter(template_name="template", extra_template_basedirs=[HERE], exclude_input=True,
                            exclude_input_prompt=True, exclude_output_prompt=True)
    html, _ = exporter.from_notebook_node(nb)
    out = os.path.join(folder, "report.html")
    with open(out + ".tmp", "w") as f:
        f.write(html)
    os.replace(out + ".tmp", out)
    figures = os.path.join(folder, "figures")
    n = len([f for f in os.listdir(figures) if f.endswith(".png")]) if os.path.isdir(figures) else 0
    print(f"report: {out} ({name} notebook, {n} figures as PNG and SVG in {figures}, "
          f"{os.path.getsize(out) / 1e6:.1f} MB, {time.time() - t0:.1f} s)")


if __name__ == "__main__":
    main()
