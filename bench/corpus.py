#!/usr/bin/env python3
"""The real-world corpus: pinned public projects that use PyTorch recurrent modules.

    python bench/corpus.py [--cache DIR] [--only NAME[,NAME...]] [--group GROUP] [--json OUT]
                           [--list] [--download-only] [--skip-missing] [--coverage]

Two kinds of project.  A PyPI project: its source distribution (or, where there is none that
builds, its pure-Python wheel) is downloaded with ``pip download --no-deps`` at a PINNED
version and checked against a pinned sha256.  A git project: a public GitHub repository
pinned by commit, read from a local bare mirror at
``$RNNSHAPE_CORPUS_MIRRORS/<owner>+<name>/repo`` (default root ``/work/.mirror``; this script
never clones); the pinned commit must be in the mirror, and the ``.py`` files and notebooks of
its tree (only under the project's chosen subdirectories, if it names any) are extracted with
``git archive``; nothing else of the tree is (the check reads nothing else, and mirrors can
lack large data files).  A missing mirror or commit is an error that names the repository to
fetch; ``--skip-missing`` leaves that project out instead.  Either way the tree lands in a
cache folder outside the repository (default ``~/.cache/rnnshape-corpus``; nothing downloaded
or extracted is ever committed) and both steps are skipped when it is already there.  Then
every ``.py`` file and every Jupyter notebook
(``.ipynb``) of every project is checked in-process with rnnshape's library API, and a table
is printed per project: files, notebooks among them, recurrent construction sites, findings
per code, file errors, seconds.  ``--json OUT`` writes every finding (project, file relative
to the project root, cell for a notebook, row, col, code, message, trace).

Two groups of projects: ``library`` packages (their recurrent modules get their tensors
through ``forward()`` parameters from other files, so the shape rules rarely have a known
input) and ``script`` projects (books, tutorials, examples, notebooks and tests that build
the tensors and the recurrent modules in the same file: where the shape rules can judge; the
PyPI packages of that kind, then the git repositories of tutorials, courses and scripts).
``--group script`` restricts the run to one group.

Recurrent construction sites are counted with the standard library's ``ast`` (not a regex; a
notebook's code cells are joined into one program first, as rnnshape does),
torch's modules only (MXNet's ``rnn.LSTM`` in gluonts or a project's own ``class RNN`` do not
count); ``nn`` counts as an alias of ``torch.nn`` (tsai and deepctr get it through star
imports) unless the file imports an ``nn`` from elsewhere (``from paddle import nn``,
``from mxnet.gluon import nn``) and not from torch:
  * direct: ``<alias of torch.nn>.X(...)`` (``nn.LSTM(...)``, ``torch.nn.GRU(...)``) or a bare
    ``X(...)`` where X was imported from ``torch.nn``; X one of RNN, LSTM, GRU, RNNCell,
    LSTMCell, GRUCell;
  * dynamic: the class assigned to a name or stored as a dict value (tsai's
    ``_cell = nn.LSTM``, espnet's ``RNN = torch.nn.LSTM if ... else torch.nn.GRU``, a dict of
    classes; isinstance checks, sets such as quantisation configs, annotations and base
    classes do not count), or
    ``getattr(<alias of torch.nn>, X)`` where X is one of those names as a string, or an
    expression whose text mentions rnn/lstm/gru, or sits in a class whose name does (darts'
    ``getattr(nn, name)(...)`` inside ``_RNNModule``).
The triage of every finding is in docs/corpus-findings.md.

Standard library only (besides rnnshape itself, imported from this checkout).
"""
from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = Path(os.environ.get("RNNSHAPE_CORPUS_CACHE",
                                    Path.home() / ".cache" / "rnnshape-corpus"))
# bare git mirrors of the git projects, one per repository: <root>/<owner>+<name>/repo
MIRRORS = Path(os.environ.get("RNNSHAPE_CORPUS_MIRRORS", "/work/.mirror"))


@dataclass(frozen=True)
class Project:
    name: str      # short name used by --only and in the table
    dist: str      # the distribution name on PyPI; "" for a git project
    version: str   # the PyPI version; a git project's commit, first 12 hex digits
    kind: str      # "sdist" | "wheel" (pure-Python wheel: the sdist does not build) | "git"
    sha256: str    # of the archive pip downloads; "" for a git project
    note: str = ""
    group: str = "library"  # "library" | "script" (tensors built in the same file)
    repo: str = ""          # git: owner/name on GitHub
    commit: str = ""        # git: the pinned commit, 40 hex digits
    subdirs: tuple = ()     # git: folders (or files) of the tree to keep; all when empty

    def __post_init__(self) -> None:
        if self.kind == "git" and not (re.fullmatch(r"[0-9a-f]{40}", self.commit)
                                       and re.fullmatch(r"[\w.-]+/[\w.-]+", self.repo)):
            raise ValueError(f"{self.name}: a git project needs owner/name and a 40-hex commit")

    @property
    def requirement(self) -> str:
        """What is pinned: ``dist==version``, or ``github:owner/name@commit``."""
        if self.kind == "git":
            return f"github:{self.repo}@{self.commit}"
        return f"{self.dist}=={self.version}"


def git_project(name: str, repo: str, commit: str, note: str, subdirs: tuple = ()) -> Project:
    """A script-style GitHub repository pinned by commit (see the module docstring)."""
    return Project(name, "", commit[:12], "git", "", note, "script", repo, commit,
                   tuple(subdirs))


PROJECTS = [
    Project("flair", "flair", "0.15.1", "sdist",
            "780b4eeffba044c4a181f1810872fc01201c2eaed8d2ef4bcb126a6464e91933",
            "sequence tagger BiLSTM, character LM"),
    Project("neuralforecast", "neuralforecast", "3.3.0", "sdist",
            "73fbb9b8ba194c6f06e64d2f137855c98616af7f2488c7107abb05516a22ebe7",
            "RNN/LSTM/GRU/DilatedRNN forecasters"),
    Project("pytorch-forecasting", "pytorch-forecasting", "1.8.0", "sdist",
            "f7de2af2fb7ce0c4ef73287666b8b79391485ff55883c974b6267b505adf0422",
            "DeepAR, TFT LSTM encoder/decoder"),
    Project("darts", "darts", "0.48.1", "sdist",
            "d73bb99ec92273ab1f2b00b3c7471c0389e89e39fdc190e0bef08c93df1a0f5b",
            "RNNModel/BlockRNNModel via getattr(nn, name); u8darts 0.41.0's sdist is a "
            "metadata-only shell, so the darts sdist is used"),
    Project("speechbrain", "speechbrain", "1.1.2", "sdist",
            "a49328b61f6e6caa0e01ab4e32bc15b564114953e30718b1379d2e1d764e426a",
            "speechbrain.nnet.RNN wrappers, LiGRU, attention decoders"),
    Project("OpenNMT-py", "OpenNMT-py", "3.5.1", "sdist",
            "8af6693ff0be0623683a5a9773b8d55b377fc14073f4897b6e6de3d482d338b2",
            "RNN encoder/decoder, stacked LSTM/GRU cells"),
    Project("allennlp", "allennlp", "2.10.1", "wheel",
            "d840f2cb285ded77f48fbe5c8f52fe955dc48d4462cae2baf4668eca10dd42fb",
            "Seq2Seq/Seq2Vec LSTM wrappers; the sdist fails to build, pure-Python wheel"),
    Project("asteroid", "asteroid", "0.7.0", "sdist",
            "0326f28c5342495cb08ba0520efd0e21e39435dfd78854837fdd5a6c9c9ca410",
            "DPRNN, LSTM maskers, X-UMX"),
    Project("gluonts", "gluonts", "0.17.0", "sdist",
            "f815d4a069be974a2a62c0eb7409a0b6c5c58fd960b562ba2a530fc2d5763c7e",
            "torch DeepAR and TFT LSTMs (its MXNet models are not counted as sites)"),
    Project("pytorch-widedeep", "pytorch-widedeep", "1.7.0", "wheel",
            "b3dd4f344680fed047a7ffe3b78b3b65d171521ccdec99eee45513070e6d7187",
            "BasicRNN, AttentiveRNN, StackedAttentiveRNN text models; sdist fails to build"),
    Project("stanza", "stanza", "1.15.0", "sdist",
            "69f18af136ac5f88611f930af8dc37e89ae9e073e23860b3604bad9a941b44b2",
            "BiLSTM taggers, parsers, char LM, classifiers"),
    Project("tsai", "tsai", "1.0.1", "sdist",
            "7ef31c7de6bf5ff551a5e3f0fbae8ee92a2cc550b1381e82485be7cd724bc012",
            "RNN/LSTM/GRU, RNN_FCN, RNNPlus time-series models"),
    Project("espnet", "espnet", "202511", "sdist",
            "280573dab2d4a0c669f0801cb7b07fa7732dd53138990cc80519e53a72412d4c",
            "RNN encoders/decoders, RNN LMs, DPRNN/SkiM separators"),
    Project("deepctr-torch", "deepctr-torch", "0.3.0", "sdist",
            "3ba2d2ea8d59eb196b66d164599102983e60b4b48283b5ba600c867092fb0176",
            "DIEN interest-evolution GRU / AUGRU"),
    # script-style code: books, tutorials, examples, notebooks and tests that build the tensors
    # and the recurrent modules in the same file
    Project("d2l", "d2l", "1.0.3", "sdist",
            "b69964354f8150d1ae02166d1eccd622c61f330bf61a23bae614be4fb59ce3be",
            "Dive into Deep Learning's book code (d2l/torch.py): RNN LMs, GRU seq2seq, "
            "predict/train helpers", group="script"),
    Project("d2l-0.17", "d2l", "0.17.6", "sdist",
            "68bff6e00119f9d9ae830347e58bfb560f0fc1b9706afe4efdc5fe390925ec50",
            "the book's earlier code (functional predict_ch8/train_ch8, RNNModel) for PyTorch, "
            "and the same chapters for MXNet, TensorFlow and PaddlePaddle", group="script"),
    Project("pytorch-ignite", "pytorch-ignite", "0.5.5", "sdist",
            "2c14de75c939a3cc06d2e7de00b1e0a261917ef9bd874dac2e69d789dfa9cc64",
            "tests (truncated-BPTT trainer on nn.RNN/nn.LSTM) and 12 example notebooks",
            group="script"),
    Project("poutyne", "poutyne", "1.19.0", "sdist",
            "6046a236a5b181ec89979606fb94abe3d420a55109c8b9b678868efbc43e1b37",
            "tutorial/example notebooks (sequence tagging with a packed LSTM)", group="script"),
    Project("opacus", "opacus", "1.6.0", "sdist",
            "20d77252c1e8528cd5826fbaba345cd39ed5c3edb841707eafb6403fe276140a",
            "examples/char-lstm-classification.py, DP-LSTM tests against nn.LSTM, benchmarks",
            group="script"),
    Project("brevitas", "brevitas", "0.13.4", "sdist",
            "925099c57239a1d7e90e22653785bd221b9b9f8d05223d10434e8a13ed57f3d6",
            "tutorial notebooks (quantized_recurrent.ipynb compares QuantRNN with nn.RNN)",
            group="script"),
    Project("backpack", "backpack-for-pytorch", "1.7.1", "sdist",
            "edfe332e4b06a69073a6d857c5fd08d286c020be4d411f5c50a729f26f62a30d",
            "docs_src example_rnn.py, RNN/LSTM derivative test settings", group="script"),
    Project("blitz", "blitz-bayesian-pytorch", "0.2.8", "wheel",
            "ab2f43dc9412da5535c07906efc33a8c3d5adf35ce5da6c5f77bfe833a5f4e3a",
            "Bayesian LSTM/GRU tests run against nn.LSTM/nn.GRU on random tensors; the sdist "
            "fails to build (its setup.py reads a requirements.txt it does not ship)",
            group="script"),
    Project("hls4ml", "hls4ml", "1.3.0", "sdist",
            "bb231fe0ed1e8dbca2b353dafc3ccb96a5bf9c6a14cd6ff13bb7606407e834ae",
            "pytest suite: PyTorch GRU/LSTM/RNN models built and run on random inputs before "
            "conversion", group="script"),
    # script-style GitHub repositories pinned by commit: tutorials, course notebooks, time-series
    # and NLP scripts where a model class, a dataset and a training loop live in scripts and
    # notebooks that people copy (subdirs: only those parts of a larger repository)
    git_project("pytorch-examples", "pytorch/examples",
                "77f55b912142e11fcfdf5b530231fb9c52f181e8",
                "word_language_model (RNNModel: getattr(nn, rnn_type), nn.RNN), "
                "time_sequence_prediction (two LSTMCells), mnist_rnn, RPC-distributed LSTM, "
                "legacy SNLI encoder",
                ("word_language_model", "time_sequence_prediction", "mnist_rnn",
                 "distributed/rpc/rnn", "legacy/snli")),
    git_project("practical-pytorch", "spro/practical-pytorch",
                "c520c52e68e945d88fff563dba1c028b6ec0197b",
                "the original PyTorch char-RNN and seq2seq tutorials: GRU generation, "
                "conditional char-RNN, batched GRU seq2seq with attention (scripts + notebooks)"),
    git_project("yunjey-tutorial", "yunjey/pytorch-tutorial",
                "0500d3df5a2a8080ccfccbc00aca0eacc21818db",
                "MNIST RNN and BiRNN, LSTM language model, image-captioning LSTM decoder"),
    git_project("sentiment-analysis", "bentrevett/pytorch-sentiment-analysis",
                "329f654b2cfaed22fee432569ebd7a2674584f79",
                "notebooks: packed bidirectional LSTM classifier on IMDb, legacy torchtext "
                "RNN/LSTM"),
    git_project("pytorch-seq2seq", "bentrevett/pytorch-seq2seq",
                "b3cd54c72cd6e4e63f672d334c795b4fe744ef92",
                "notebooks: LSTM and GRU encoder-decoders, Bahdanau attention, packed padded "
                "sequences"),
    git_project("nlp-tutorial", "graykode/nlp-tutorial",
                "d05e31ec81d56d70c1db89b99ab07e948f7ebc11",
                "one-file TextRNN, TextLSTM, Bi-LSTM, Seq2Seq (+attention), each as .py and "
                ".ipynb"),
    git_project("image-captioning", "sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning",
                "cc9c7e2f4017938d414178d3781fed8dbe442852",
                "Show, Attend and Tell: LSTMCell decoder stepped by hand (models.py, train.py, "
                "caption.py)"),
    git_project("sequence-labeling", "sgrvinod/a-PyTorch-Tutorial-to-Sequence-Labeling",
                "ee3f34b45a6e24dd748a144bfc25b1adf9e1f077",
                "LM-LSTM-CRF: character LSTMs, word BiLSTM, CRF; packed sequences (models.py, "
                "train.py)"),
    git_project("morvan-tutorial", "MorvanZhou/PyTorch-Tutorial",
                "dbe154a9e56635e51c6b0c2ccea8ae36cfb585a7",
                "MNIST LSTM classifier, sin-to-cos RNN regressor, dynamic-graph RNN (scripts and "
                "their notebooks)"),
    git_project("char-rnn.pytorch", "spro/char-rnn.pytorch",
                "282bcb6b15ab3929d6a588b455cfc0f19f32add4",
                "CharRNN with a GRU or LSTM chosen by flag (model.py, train.py, generate.py)"),
    git_project("zero-to-all", "hunkim/PyTorchZeroToAll",
                "e5a260fac0b4ff1e2ec434fc6f0d962ac97fc289",
                "lecture scripts: RNN basics, hello-RNN, char-RNN, packed GRU name classifier, "
                "seq2seq"),
    git_project("deeplearning-models", "rasbt/deeplearning-models",
                "18e046926551378cd691fd871dda0f21dcd272ab",
                "notebooks: simple and packed RNN/LSTM/GRU on IMDb and AG News, BiLSTM, char-RNN",
                ("pytorch_ipynb/rnn",)),
    git_project("chinese-text-cls", "649453932/Chinese-Text-Classification-Pytorch",
                "6cb26819af7b646275aff8a4693676f2849e67f6",
                "TextRNN, TextRNN_Att, TextRCNN (models/*.py, run.py, train_eval.py)"),
    git_project("tacotron2", "NVIDIA/tacotron2",
                "185cd24e046cc1304b4f8e564734d2498c6e2e6f",
                "speech: BiLSTM text encoder, attention and decoder LSTMCells (model.py, "
                "train.py, inference notebook)"),
    git_project("rnn-anomaly", "chickenbestlover/RNN-Time-series-Anomaly-Detection",
                "21ddb78f9128cc5a96dfaf4b27ee4db76a1a68ee",
                "time series: RNNPredictor (getattr(nn, rnn_type) or nn.RNN), training and "
                "anomaly-detection scripts"),
    git_project("da-rnn", "Seanny123/da-rnn",
                "8585806feee7726084bb2f733a3aaefada9c1f2f",
                "time series: dual-stage attention LSTM encoder/decoder (modules.py, main.py)"),
    git_project("dataflowr", "dataflowr/notebooks",
                "043dff0f792a5ae67005ba147f7b9dd5fc66e2a1",
                "course modules 11-13: RNN and packed sequences, GRU seq2seq with attention "
                "(the exercise notebooks with blanks to fill do not parse and are left out, as "
                "are the transformer and siamese-network ones)",
                ("Module11/11_RNN.ipynb", "Module11/11_Tutorial_packing_sequences.ipynb",
                 "Module11/sol", "Module12/12_seq2seq_attention.ipynb",
                 "Module12/12_seq2seq_attention_solution.ipynb", "Module13/seq2seq.py")),
    git_project("gtd-pytorch", "curiousily/Getting-Things-Done-with-Pytorch",
                "2be69a0add8be4501aefb7f39a60c244683a8bc7",
                "time series notebooks: COVID-19 LSTM forecaster, ECG LSTM autoencoder (the "
                "repository's other notebooks are not recurrent; two exceed the mirror's 4 MiB)",
                ("05.time-series-forecasting-covid-19.ipynb",
                 "06.time-series-anomaly-detection-ecg.ipynb")),
]

SKIP_DIRS = {".git", "__pycache__", ".venv", "venv", "node_modules", ".ipynb_checkpoints",
             ".eggs", ".tox"}
RECURRENT = {"RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"}
_RECURRENT_TEXT = re.compile(r"rnn|lstm|gru", re.IGNORECASE)


# --------------------------------------------------------------------------- download

def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _pip_download(project: Project, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    binary = ["--no-binary", ":all:"] if project.kind == "sdist" else ["--only-binary", ":all:"]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
           "--quiet", *binary, "-d", str(dest), project.requirement]
    print(f"  $ {' '.join(cmd[2:])}", flush=True)
    # pip prepares an sdist's metadata in a temporary build; run it from the destination so
    # that nothing it writes lands in the repository.
    result = subprocess.run(cmd, cwd=dest, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"pip download failed for {project.requirement}:\n"
                           + (result.stderr or result.stdout)[-2000:])
    archives = [p for p in dest.iterdir() if p.suffix in (".gz", ".zip", ".whl")
                and _norm(p.name).startswith(_norm(f"{project.dist}-{project.version}-"))]
    if len(archives) != 1:
        raise RuntimeError(f"expected one archive for {project.requirement} in {dest}, "
                           f"got {[p.name for p in dest.iterdir()]}")
    return archives[0]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _unpack(archive: Path, target: Path) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    try:
        if archive.name.endswith((".tar.gz", ".tgz", ".tar")):
            with tarfile.open(archive) as tar:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    if hasattr(tarfile, "data_filter"):
                        tar.extractall(tmp, filter="data")
                    else:  # pragma: no cover - Python without extraction filters
                        tar.extractall(tmp)
        else:  # wheel or zip; zipfile already refuses absolute paths and '..'
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(tmp)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


class MissingSource(RuntimeError):
    """A git project whose mirror, or whose pinned commit in it, is not on this machine."""


def _git_dir(project: Project) -> Path:
    """The project's mirror: ``<MIRRORS>/<owner>+<name>/repo``, or its ``.git`` when the
    mirror is a clone with a work tree."""
    base = MIRRORS / project.repo.replace("/", "+") / "repo"
    return base / ".git" if (base / ".git").is_dir() else base


def _git(git_dir: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    # literal pathspecs: a file named ``a[1].py`` is that file, not a pattern
    env = {**os.environ, "GIT_LITERAL_PATHSPECS": "1"}
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], input=stdin,
                          capture_output=True, timeout=900, env=env)


def _git_sources(project: Project, git_dir: Path) -> list[str]:
    """The ``.py`` files and notebooks of the pinned tree under the project's subdirs, after
    checking that every subdir is in the tree and every file's content is in the mirror."""
    listed = _git(git_dir, "ls-tree", "-r", "-z", project.commit, "--", *project.subdirs)
    if listed.returncode:
        raise RuntimeError(f"git ls-tree failed for {project.requirement}: "
                           + listed.stderr.decode(errors="replace").strip())
    entries = []  # (path, object id) of the regular files
    for entry in filter(None, listed.stdout.split(b"\0")):
        meta, path = entry.split(b"\t", 1)
        mode, kind, oid = meta.decode().split()
        if kind == "blob" and mode != "120000":  # no symlinks, no submodules
            entries.append((os.fsdecode(path), oid))
    for sub in project.subdirs:
        sub = sub.rstrip("/")
        if not any(path == sub or path.startswith(sub + "/") for path, _ in entries):
            raise RuntimeError(f"{project.requirement}: {sub!r} is not in the tree")
    sources = [(path, oid) for path, oid in entries if path.endswith(SOURCE_SUFFIXES)]
    if not sources:
        raise RuntimeError(f"{project.requirement}: no .py file or notebook under "
                           f"{', '.join(project.subdirs) or 'the root'}")
    checked = _git(git_dir, "cat-file", "--batch-check",
                   stdin="".join(f"{oid}\n" for _, oid in sources).encode())
    missing = [path for (path, _), line in zip(sources, checked.stdout.decode().splitlines())
               if line.endswith(" missing")]
    if checked.returncode or missing:
        raise RuntimeError(f"{project.requirement}: the mirror {git_dir} lacks the content of "
                           f"{', '.join(missing) or 'some files'} (mirrors can omit large "
                           f"files); choose subdirs that leave them out")
    return [path for path, _ in sources]


def _fetch_git(project: Project, target: Path) -> None:
    """Extract the pinned commit's ``.py`` files and notebooks from the project's mirror."""
    git_dir = _git_dir(project)
    if not git_dir.is_dir():
        raise MissingSource(f"{project.name}: the corpus needs github:{project.repo} (commit "
                            f"{project.commit}) and there is no mirror at {git_dir}: fetch "
                            f"github:{project.repo} (mirror root: RNNSHAPE_CORPUS_MIRRORS, "
                            f"now {MIRRORS})")
    if _git(git_dir, "cat-file", "-e", f"{project.commit}^{{commit}}").returncode:
        raise MissingSource(f"{project.name}: the corpus needs github:{project.repo} at commit "
                            f"{project.commit}, which the mirror {git_dir} lacks: fetch "
                            f"github:{project.repo} again")
    paths = _git_sources(project, git_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    archive = target.parent / f".{target.name}.tar"
    try:
        with open(archive, "wb") as out:
            result = subprocess.run(["git", f"--git-dir={git_dir}", "archive", "--format=tar",
                                     project.commit, "--", *paths], stdout=out,
                                    stderr=subprocess.PIPE, timeout=900,
                                    env={**os.environ, "GIT_LITERAL_PATHSPECS": "1"})
        if result.returncode:
            raise RuntimeError(f"git archive failed for {project.requirement}: "
                               + result.stderr.decode(errors="replace").strip()[-2000:])
        _unpack(archive, target)
    finally:
        archive.unlink(missing_ok=True)


def fetch(project: Project, cache: Path) -> Path:
    """The unpacked project root, downloading (PyPI) or extracting (git) only when missing.

    Raises MissingSource for a git project whose mirror or pinned commit is not here."""
    target = cache / "src" / f"{project.name}-{project.version}"
    marker = target / ".rnnshape-corpus-complete"
    if project.kind == "git":
        stamp = f"{project.requirement} {' '.join(project.subdirs) or '.'}\n"
        if not (marker.exists() and marker.read_text() == stamp):  # subdirs may have changed
            _fetch_git(project, target)
            marker.write_text(stamp)
        return target  # the tree as it is in the repository, paths relative to its root
    if not marker.exists():
        dl = cache / "downloads" / f"{project.name}-{project.version}"
        archives = [p for p in dl.glob("*") if p.is_file()] if dl.exists() else []
        archive = archives[0] if len(archives) == 1 else None
        if archive is None or _sha256(archive) != project.sha256:
            if dl.exists():
                shutil.rmtree(dl)
            archive = _pip_download(project, dl)
        got = _sha256(archive)
        if got != project.sha256:
            raise RuntimeError(f"{archive.name}: sha256 {got} != pinned {project.sha256}")
        target.parent.mkdir(parents=True, exist_ok=True)
        _unpack(archive, target)
        marker.write_text(f"{project.requirement} {project.sha256}\n")
    return project_root(target)


def project_root(target: Path) -> Path:
    """An sdist unpacks to one top folder: use it, so relative paths read like the repo's."""
    entries = [p for p in target.iterdir() if not p.name.startswith(".rnnshape-corpus")]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return target


# --------------------------------------------------------------------------- counting

SOURCE_SUFFIXES = (".py", ".ipynb")


def python_files(root: Path) -> list[Path]:
    """Every ``.py`` file and notebook under root, in a stable order."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        out.extend(Path(dirpath) / f for f in sorted(filenames) if f.endswith(SOURCE_SUFFIXES))
    return out


def program_text(path: Path, text: str) -> str:
    """The Python program rnnshape sees: the file, or a notebook's code cells joined (its
    magics masked); "" for a notebook that is not Python or does not load."""
    if path.suffix != ".ipynb":
        return text
    try:
        from rnnshape.notebook import load_notebook
        notebook = load_notebook(text, str(path))
        return notebook.program() if notebook.is_python else ""
    except Exception:  # FileError and anything else: the check itself reports it
        return ""


def _torch_nn_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(aliases of ``torch.nn``, recurrent class names imported from it) in one file."""
    aliases, names = {"torch.nn", "nn"}, set()  # ``nn`` also via star imports
    nn_from_torch = nn_from_other = False  # ``from paddle import nn``, ``from mxnet.gluon ...``
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name == "torch.nn" and a.asname:
                    aliases.add(a.asname)
                    nn_from_torch |= a.asname == "nn"
                elif a.asname == "nn":
                    nn_from_other = True
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                if node.module == "torch" and a.name == "nn":
                    aliases.add(a.asname or "nn")
                    nn_from_torch |= (a.asname or "nn") == "nn"
                elif (node.module == "torch.nn" or node.module.startswith("torch.nn.modules")) \
                        and a.name in RECURRENT:
                    names.add(a.asname or a.name)
                elif (a.asname or a.name) == "nn":
                    nn_from_other = True
    if nn_from_other and not nn_from_torch:
        aliases.discard("nn")  # this file's ``nn`` is another framework's
    return aliases, names


class _SiteCounter(ast.NodeVisitor):
    """Constructions of torch's recurrent modules (MXNet's ``rnn.LSTM`` or a project's own
    ``class RNN`` do not count).  direct: ``<torch.nn alias>.LSTM(...)`` or a bare name imported
    from ``torch.nn``; dynamic: the class assigned to a name or put in a dict as a value
    (``_cell = nn.LSTM``, ``rnn = nn.LSTM if lstm else nn.GRU``, ``{"lstm": nn.LSTM}``) or
    ``getattr(<torch.nn alias>, X)`` with a recurrent X."""

    def __init__(self, aliases: set[str], names: set[str]) -> None:
        self.aliases, self.names = aliases, names
        self.direct = 0
        self.dynamic = 0
        self._classes: list[str] = []

    def _is_recurrent_ref(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Attribute):
            return node.attr in RECURRENT and ast.unparse(node.value) in self.aliases
        return isinstance(node, ast.Name) and node.id in self.names

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._classes.append(node.name)
        for stmt in node.body:  # bases and decorators are not constructions
            self.visit(stmt)
        self._classes.pop()

    def visit_FunctionDef(self, node) -> None:
        for stmt in node.body:  # skip annotations and defaults' types
            self.visit(stmt)
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d]:
            self.visit(default)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)

    def _class_value(self, expr) -> bool:
        """``nn.LSTM`` or ``nn.LSTM if lstm else nn.GRU`` used as a value."""
        if isinstance(expr, ast.IfExp):
            return self._class_value(expr.body) or self._class_value(expr.orelse)
        return self._is_recurrent_ref(expr)

    def visit_Assign(self, node: ast.Assign) -> None:
        if self._class_value(node.value):
            self.dynamic += 1  # ``_cell = nn.LSTM``: one site, built later through the name
        else:
            self.visit(node.value)

    def visit_Dict(self, node: ast.Dict) -> None:
        for value in node.values:
            if self._class_value(value):
                self.dynamic += 1  # ``{"lstm": nn.LSTM, ...}``: a choice of classes
            else:
                self.visit(value)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        args = list(node.args) + [k.value for k in node.keywords]
        if self._is_recurrent_ref(func):
            self.direct += 1
        elif isinstance(func, ast.Name) and func.id in ("isinstance", "issubclass"):
            args = args[:1]  # the class tuple is a check, not a construction
        elif (isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2
              and ast.unparse(node.args[0]) in self.aliases):
            arg = node.args[1]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                recurrent = arg.value in RECURRENT
            else:
                recurrent = bool(_RECURRENT_TEXT.search(ast.unparse(arg))
                                 or any(_RECURRENT_TEXT.search(c) for c in self._classes))
            self.dynamic += recurrent
            args = []
        else:
            self.visit(func)
        for arg in args:
            self.visit(arg)


def count_sites(text: str) -> tuple[int, int]:
    """(direct, dynamic) recurrent construction sites; (0, 0) if the file does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return 0, 0
    try:
        counter = _SiteCounter(*_torch_nn_names(tree))
        counter.visit(tree)
    except RecursionError:
        pass
    return counter.direct, counter.dynamic


# --------------------------------------------------------------------------- checking

@dataclass
class Result:
    project: Project
    files: int = 0
    notebooks: int = 0
    direct: int = 0
    dynamic: int = 0
    codes: Counter = field(default_factory=Counter)
    errors: list = field(default_factory=list)   # (relative path, message)
    findings: list = field(default_factory=list)
    seconds: float = 0.0
    slowest: list = field(default_factory=list)  # (seconds, relative path)
    coverage: Counter = field(default_factory=Counter)  # --coverage: what the tracker saw


RECURRENT_KINDS = {"RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"}


def tracker_coverage(job, text: str, path: str) -> Counter | None:
    """How much of the file's recurrent code the tracker resolved (internal API: best effort),
    counting what lies in this file, with the project around it as ``check`` sees it.

    modules: recurrent constructions it recognised; mod_shaped: of those, the ones with at
    least one followed call whose input shape (rank) is known; calls: recurrent calls it
    followed; shaped: of those, calls whose input rank it knew (the only ones a layout rule
    can judge); roles: calls with at least one dim whose meaning (batch/time/feature) is known.
    """
    try:
        from rnnshape.api import analyze
        analysis = analyze(text, path, None, job.sources(path),
                           job.project.importers.get(path, ()), path in job.project.linked)
        if analysis is None:
            return Counter()
        unit, facts = analysis.unit, analysis.facts
        modules = {m.node for m in facts.modules
                   if m.kind in RECURRENT_KINDS and m.node is not None and unit.holds(m.node)}
        calls = {}
        for c in facts.recurrent_calls:
            if unit.holds(c.node):
                known = getattr(c.shape, "dims", None) is not None
                roles = any(d.role for d in (getattr(c.shape, "dims", None) or ()))
                old = calls.get(c.node, (False, False, None))
                calls[c.node] = (old[0] or known, old[1] or roles, c.module.node)
        out = Counter()
        out["modules"] = len(modules)
        out["mod_shaped"] = len({m for known, _, m in calls.values() if known} & modules)
        out["calls"] = len(calls)
        out["shaped"] = sum(1 for known, _, _ in calls.values() if known)
        out["roles"] = sum(1 for _, roles, _ in calls.values() if roles)
        return out
    except Exception:
        return None


def check_project(project: Project, root: Path, coverage: bool = False) -> Result:
    """Every file of the project checked as ``rnnshape check <root>`` checks it: one program,
    imports between its files resolved."""
    from rnnshape.config import Config
    from rnnshape.per_file import FileJob, scan_project
    result = Result(project)
    paths = python_files(root)
    roots = (str(root),)
    check_file = FileJob(Config(), roots=roots, project=scan_project([str(p) for p in paths], roots))
    for path in paths:
        rel = path.relative_to(root).as_posix()
        result.files += 1
        result.notebooks += path.suffix == ".ipynb"
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        text = program_text(path, text)
        direct, dynamic = count_sites(text)
        result.direct += direct
        result.dynamic += dynamic
        t0 = time.perf_counter()
        try:
            checked = check_file(str(path))
            diagnostics = checked.diagnostics
            for exc in checked.errors:
                where = f":{exc.row}" if getattr(exc, "row", None) else ""
                result.errors.append((rel + where, exc.message))
        except Exception as exc:  # the per-file job should turn these into errors; report it
            result.errors.append((rel, f"UNCAUGHT {type(exc).__name__}: {exc}"))
            diagnostics = []
        result.slowest.append((time.perf_counter() - t0, rel))
        if coverage and (direct or dynamic or re.search(r"LSTM|GRU|RNN", text)):
            seen = tracker_coverage(check_file, text, str(path))
            if seen is None:
                result.coverage["unavailable"] += 1
            else:
                result.coverage.update(seen)
        for d in diagnostics:
            result.codes[d.code] += 1
            result.findings.append({
                "project": project.name, "version": project.version, "file": rel,
                "cell": getattr(d, "cell", None),
                "row": d.row, "col": d.column, "code": d.code, "message": d.message,
                "trace": [f"{t.text} -> {t.shape}  line {t.row}" for t in (d.trace or [])],
            })
    result.seconds = sum(s for s, _ in result.slowest)  # check_file time only
    result.slowest = sorted(result.slowest, reverse=True)[:3]
    return result


def print_table(results: list[Result]) -> None:
    codes = sorted({c for r in results for c in r.codes})
    cov = ["modules", "mod_shaped", "calls", "shaped", "roles"] \
        if any(r.coverage for r in results) else []
    head = ["project", "version", "group", "files", "nbs", "sites", "direct", "dynamic", *cov,
            *codes, "findings", "errors", "seconds"]

    def row(name: str, version: str, group: str, rs: list[Result]) -> list:
        found, seen = Counter(), Counter()
        for r in rs:
            found.update(r.codes)
            seen.update(r.coverage)
        return [name, version, group, sum(r.files for r in rs), sum(r.notebooks for r in rs),
                sum(r.direct + r.dynamic for r in rs), sum(r.direct for r in rs),
                sum(r.dynamic for r in rs), *(seen.get(c, 0) for c in cov),
                *(found.get(c, 0) for c in codes), sum(found.values()),
                sum(len(r.errors) for r in rs), f"{sum(r.seconds for r in rs):.1f}"]

    rows = [row(r.project.name, r.project.version, r.project.group, [r]) for r in results]
    groups = sorted({r.project.group for r in results})
    if len(groups) > 1:
        for g in groups:
            rows.append(row(f"total {g}", "", g, [r for r in results if r.project.group == g]))
    rows.append(row("TOTAL", "", "", results))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "| " + " | ".join(  # noqa: E731
        str(c).ljust(w) if i < 3 else str(c).rjust(w)
        for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for cells in rows:
        print(line(cells))


def _revision() -> str:
    """The checkout's commit, marked dirty when rnnshape/ has local changes."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "rnnshape"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "(unknown revision)"
    return (head or "(unknown revision)") + ("+dirty" if dirty else "")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"download/unpack folder (default {DEFAULT_CACHE})")
    parser.add_argument("--only", help="comma-separated project names")
    parser.add_argument("--group", choices=("library", "script"),
                        help="only the projects of one group")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write every finding to OUT")
    parser.add_argument("--list", action="store_true", help="print the pinned projects and exit")
    parser.add_argument("--download-only", action="store_true", help="fetch, do not check")
    parser.add_argument("--skip-missing", action="store_true",
                        help="leave out a git project whose mirror or pinned commit is not on "
                             "this machine (say which) instead of failing")
    parser.add_argument("--coverage", action="store_true",
                        help="also count what the tracker resolved (recurrent modules, calls, "
                             "calls with a known input rank); analyses those files twice")
    args = parser.parse_args(argv)

    projects = PROJECTS
    if args.only:
        wanted = {n.strip().lower() for n in args.only.split(",") if n.strip()}
        projects = [p for p in PROJECTS if p.name.lower() in wanted]
        unknown = wanted - {p.name.lower() for p in projects}
        if unknown:
            parser.error(f"unknown project(s): {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(p.name for p in PROJECTS)}")
    if args.group:
        projects = [p for p in projects if p.group == args.group]
    if args.list:
        width = max((len(p.requirement) for p in projects), default=0)
        for p in projects:
            keep = f" [{', '.join(p.subdirs)}]" if p.subdirs else ""
            print(f"{p.name:20} {p.requirement:{width}} {p.kind:5} {p.group:7}  {p.note}{keep}")
        return 0

    cache = args.cache.expanduser().resolve()
    if cache == REPO or REPO in cache.parents:
        parser.error(f"the cache must be outside the repository ({REPO})")
    cache.mkdir(parents=True, exist_ok=True)

    roots, missing = {}, []
    for p in projects:
        print(f"[fetch] {p.requirement}", flush=True)
        try:
            roots[p.name] = fetch(p, cache)
        except MissingSource as exc:
            if not args.skip_missing:
                print(f"error: {exc}\n(--skip-missing leaves such projects out)", file=sys.stderr)
                return 2
            print(f"[skip] {exc}", flush=True)
            missing.append(p.name)
    projects = [p for p in projects if p.name in roots]
    if missing:
        print(f"left out, not on this machine: {', '.join(missing)}", flush=True)
    if args.download_only:
        return 0

    sys.path.insert(0, str(REPO))
    print(f"rnnshape {_revision()}", flush=True)
    results = []
    for p in projects:
        print(f"[check] {p.name} ({roots[p.name]})", flush=True)
        results.append(check_project(p, roots[p.name], coverage=args.coverage))

    print()
    print_table(results)
    print()
    for r in results:
        for rel, message in r.errors:
            print(f"file error: {r.project.name}/{rel}: {message}")
    slow = sorted(((s, f"{r.project.name}/{rel}") for r in results for s, rel in r.slowest),
                  reverse=True)[:5]
    print("slowest files: " + ", ".join(f"{name} {s:.2f}s" for s, name in slow))
    findings = [f for r in results for f in r.findings]
    for f in findings:
        cell = f"cell {f['cell']}:" if f.get("cell") is not None else ""
        print(f"{f['project']}/{f['file']}:{cell}{f['row']}:{f['col']}: "
              f"{f['code']} {f['message']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(findings, indent=2) + "\n")
        print(f"wrote {len(findings)} findings to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
