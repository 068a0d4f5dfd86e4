"""Bad inputs, one row each: exit code 2, a message naming the problem and the fix, never gradscope's traceback.

Each row writes the files it needs into a temporary folder; `{dir}` in the arguments is that folder.
"""

import textwrap

import pytest

from cli_helpers import SAMPLES, gradscope_frames, invoke

MLP = "from torch import nn\n\ndef build_model():\n    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))\n"
HEALTHY = str(SAMPLES / "healthy_mlp.py")


def model_with(body: str) -> dict:
    return {"m.py": "import torch\nfrom torch import nn\n" + textwrap.dedent(body)}


CASES = [
    # (id, files, args, words that must appear)
    ("file-missing", {}, ["{dir}/absent.py"], ["not found", "absent.py"]),
    ("file-is-directory", {"pkg/__init__.py": ""}, ["{dir}/pkg"], ["directory"]),
    ("file-not-python", {"m.txt": "x"}, ["{dir}/m.txt"], [".py"]),
    ("syntax-error", {"m.py": "def build_model(:\n"}, ["{dir}/m.py"], ["SyntaxError", "m.py"]),
    ("import-raises", {"m.py": "raise RuntimeError('no GPU here')\n"}, ["{dir}/m.py"], ["no GPU here", "importing"]),
    ("no-model-found", {"m.py": "x = 1\n"}, ["{dir}/m.py"], ["build_model", "model"]),
    ("build-model-not-callable", {"m.py": "build_model = 3\n"}, ["{dir}/m.py"], ["build_model", "callable"]),
    ("build-model-returns-non-module", {"m.py": "def build_model():\n    return 42\n"}, ["{dir}/m.py"],
     ["nn.Module", "int"]),
    ("build-model-raises", model_with("def build_model():\n    raise ValueError('bad width')\n"), ["{dir}/m.py"],
     ["bad width", "build_model"]),
    ("name-after-colon-missing", {"m.py": MLP}, ["{dir}/m.py:make_net"], ["make_net", "build_model"]),
    ("no-trainable-parameters", model_with("def build_model():\n    return nn.ReLU()\n"), ["{dir}/m.py"],
     ["trainable"]),
    ("all-parameters-frozen", model_with("""
        def build_model():
            m = nn.Linear(4, 2)
            m.requires_grad_(False)
            return m
        """), ["{dir}/m.py"], ["frozen", "requires_grad"]),
    ("get-data-wrong-type", {"m.py": MLP + "def get_data():\n    return 'rows'\n"}, ["{dir}/m.py"], ["get_data", "str"]),
    ("get-data-length-mismatch", {"m.py": MLP + "import torch\ndef get_data():\n"
                                  "    return torch.randn(10, 4), torch.zeros(9, dtype=torch.long)\n"},
     ["{dir}/m.py"], ["10", "9"]),
    ("get-data-empty", {"m.py": MLP + "import torch\ndef get_data():\n"
                        "    return torch.randn(0, 4), torch.zeros(0, dtype=torch.long)\n"}, ["{dir}/m.py"], ["empty"]),
    ("data-shape-does-not-fit", {"m.py": MLP + "import torch\ndef get_data():\n"
                                 "    return torch.randn(64, 7), torch.zeros(64, dtype=torch.long)\n"},
     ["{dir}/m.py"], ["7", "Linear", "4"]),
    ("loss-not-scalar", {"m.py": MLP + "def loss_fn(out, y):\n    return (out ** 2)\n"}, ["{dir}/m.py"],
     ["scalar", "loss_fn"]),
    ("loss-not-differentiable", {"m.py": MLP + "import torch\ndef loss_fn(out, y):\n"
                                 "    return torch.tensor(1.0)\n"}, ["{dir}/m.py"], ["loss", "grad"]),
    ("dict-output-without-known-key", model_with("""
        class M(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)
            def forward(self, x):
                return {"scores": self.fc(x)}
        def build_model():
            return M()
        def get_data():
            return torch.randn(64, 4), torch.zeros(64, dtype=torch.long)
        """), ["{dir}/m.py"], ["scores", "loss_fn"]),
    ("integer-targets-for-regression-head", model_with("""
        def build_model():
            return nn.Linear(4, 1)
        def get_data():
            return torch.randn(64, 4), torch.randint(0, 3, (64,))
        """), ["{dir}/m.py"], ["class", "--loss mse"]),
    ("float-targets-with-cross-entropy", {"m.py": MLP + "import torch\ndef get_data():\n"
                                          "    return torch.randn(64, 4), torch.randn(64)\n"},
     ["{dir}/m.py", "--loss", "cross_entropy"], ["cross_entropy", "float"]),
    ("steps-zero", {}, [HEALTHY, "--steps", "0"], ["steps", ">= 1"]),
    ("lr-negative", {}, [HEALTHY, "--lr", "-0.1"], ["lr", "positive"]),
    ("batch-size-zero", {}, [HEALTHY, "--batch-size", "0"], ["batch_size", ">= 1"]),
    ("unknown-optimizer", {}, [HEALTHY, "--optimizer", "rmsprop"], ["optimizer", "adam"]),
    ("unknown-loss", {}, [HEALTHY, "--loss", "hinge"], ["loss", "cross_entropy"]),
    ("unknown-device", {}, [HEALTHY, "--device", "tpu"], ["device", "cuda"]),
    ("yaml-does-not-parse", {"c.yaml": "steps: [1, 2\n"}, [HEALTHY, "--config", "{dir}/c.yaml"], ["YAML"]),
    ("yaml-not-a-mapping", {"c.yaml": "- 1\n- 2\n"}, [HEALTHY, "--config", "{dir}/c.yaml"], ["mapping"]),
    ("yaml-unknown-key", {"c.yaml": "stepz: 3\n"}, [HEALTHY, "--config", "{dir}/c.yaml"], ["stepz", "steps"]),
    ("yaml-wrong-type", {"c.yaml": "steps: many\n"}, [HEALTHY, "--config", "{dir}/c.yaml"], ["steps", "int"]),
    ("config-missing", {}, [HEALTHY, "--config", "{dir}/absent.yaml"], ["not found"]),
    ("csv-missing-target-column", {"d.csv": "a,b,label\n1,2,0\n3,4,1\n"},
     [HEALTHY, "--data", "{dir}/d.csv", "--target", "y"], ["y", "label"]),
    ("csv-without-target-flag", {"d.csv": "a,b,label\n1,2,0\n3,4,1\n"}, [HEALTHY, "--data", "{dir}/d.csv"],
     ["--target"]),
    ("csv-non-numeric-features", {"d.csv": "a,b,label\n1,x,0\n3,y,1\n"},
     [HEALTHY, "--data", "{dir}/d.csv", "--target", "label"], ["b", "numeric"]),
    ("data-spec-unknown", {}, [HEALTHY, "--data", "imagenet"], ["imagenet", "classification"]),
    ("data-spec-bad-option", {}, [HEALTHY, "--data", "classification:colour=3"], ["colour", "samples"]),
    ("json-folder-missing", {}, [HEALTHY, "--json", "{dir}/absent/r.json"], ["does not exist", "mkdir"]),
    ("csv-path-is-directory", {"out/keep": ""}, [HEALTHY, "--csv", "{dir}/out"], ["directory"]),
    ("threshold-malformed", {}, [HEALTHY, "--threshold", "vanishing.ratio"], ["KEY=VALUE"]),
    ("threshold-unknown", {}, [HEALTHY, "--threshold", "vanish=1"], ["vanish", "vanishing.ratio"]),
    ("ignore-unknown-rule", {}, [HEALTHY, "--ignore", "vanishng"], ["vanishng", "vanishing"]),
    ("get-data-calls-sys-exit", {"m.py": MLP + "import sys\ndef get_data():\n    sys.exit(0)\n"}, ["{dir}/m.py"],
     ["SystemExit", "get_data"]),
    ("build-model-calls-sys-exit", model_with("import sys\ndef build_model():\n    sys.exit(3)\n"), ["{dir}/m.py"],
     ["SystemExit", "build_model"]),
    # Values beyond what torch or memory can take (issue 14, item 8)
    ("steps-beyond-64-bit", {}, [HEALTHY, "--steps", "99999999999999999999"], ["steps", "1,000,000,000,000"]),
    ("seed-beyond-64-bit", {}, [HEALTHY, "--seed", "99999999999999999999"], ["seed", "64 bits"]),
    ("data-samples-beyond-memory", {}, [HEALTHY, "--data", "classification:samples=99999999999999"],
     ["samples", "100,000,000"]),
    ("data-samples-times-features-beyond-memory", {},
     [HEALTHY, "--data", "classification:samples=20000000,features=20"], ["samples", "features", "memory"]),
    ("get-data-numpy-object-array", {"m.py": MLP + "import numpy as np\ndef get_data():\n"
                                     "    x = np.empty((16, 4), dtype=object)\n    x[:] = 1.0\n"
                                     "    return x, np.zeros(16, dtype=np.int64)\n"}, ["{dir}/m.py"],
     ["object", "dtype=np.float32"]),
    ("get-data-meta-tensor", {"m.py": MLP + "import torch\ndef get_data():\n"
                              "    return torch.randn(16, 4, device='meta'), torch.zeros(16, dtype=torch.long)\n"},
     ["{dir}/m.py"], ["meta device"]),
    ("get-data-sparse-tensor", {"m.py": MLP + "import torch\ndef get_data():\n"
                                "    return torch.randn(16, 4).to_sparse(), torch.zeros(16, dtype=torch.long)\n"},
     ["{dir}/m.py"], ["sparse", "to_dense"]),
    ("csv-empty-label-cell", {"m.py": MLP, "d.csv": "a,b,c,d,label\n1,2,3,4,0\n3,4,5,6,\n5,6,7,8,1\n"},
     ["{dir}/m.py", "--data", "{dir}/d.csv", "--target", "label"], ["label", "empty", "line 3", "floats"]),
    # Outputs that would replace an input or another output (issue 14, item 1)
    ("json-is-the-model-file", {"m.py": MLP}, ["{dir}/m.py", "--json", "{dir}/m.py"], ["--json", "model file"]),
    ("csv-is-the-data-file", {"d.csv": "a,b,label\n1,2,0\n3,4,1\n"},
     [HEALTHY, "--data", "{dir}/d.csv", "--target", "label", "--csv", "{dir}/d.csv"], ["--csv", "--data file"]),
    ("json-is-the-config-file", {"c.yaml": "steps: 3\n"}, [HEALTHY, "--config", "{dir}/c.yaml", "--json",
                                                              "{dir}/c.yaml"], ["--json", "--config file"]),
    ("json-and-csv-are-one-file", {}, [HEALTHY, "--json", "{dir}/r.out", "--csv", "{dir}/r.out"],
     ["--json", "--csv", "own file"]),
]


@pytest.mark.parametrize("files, args, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_exits_2_with_a_fix_and_no_gradscope_traceback(tmp_path, files, args, words):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    short = [] if "--steps" in args else ["--steps", "3"]
    result = invoke("inspect", *[a.format(dir=tmp_path) for a in args], *short)
    assert result.exit_code == 2, result.output
    assert "error:" in result.output
    for word in words:
        assert word in result.output, (word, result.output)
    assert not gradscope_frames(result.output), result.output


def test_cuda_requested_without_cuda_is_a_usage_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = invoke("inspect", HEALTHY, "--device", "cuda", "--steps", "2")
    assert result.exit_code == 2 and "CUDA is not available" in result.output


def test_nan_in_the_data_is_a_finding_not_a_crash(tmp_path):
    (tmp_path / "m.py").write_text(MLP + "import torch\ndef get_data():\n"
                                   "    x = torch.randn(64, 4)\n    x[5, 1] = float('nan')\n"
                                   "    return x, torch.zeros(64, dtype=torch.long)\n")
    result = invoke("inspect", tmp_path / "m.py", "--steps", "5")
    assert result.exit_code == 0, result.output
    assert "nonfinite" in result.output and "contains NaN" in result.output


def test_tuple_output_is_supported(tmp_path):
    (tmp_path / "m.py").write_text(
        "import torch\nfrom torch import nn\n"
        "class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(4, 3)\n"
        "    def forward(self, x):\n        h = self.fc(x)\n        return h, h.detach()\n"
        "def build_model():\n    return M()\n")
    result = invoke("inspect", tmp_path / "m.py", "--steps", "3")
    assert result.exit_code == 0, result.output


def test_an_output_symlinked_to_an_input_is_refused_and_every_input_is_left_as_it_was(tmp_path):
    (tmp_path / "m.py").write_text(MLP)
    (tmp_path / "c.yaml").write_text("steps: 2\n")
    (tmp_path / "link.json").symlink_to(tmp_path / "m.py")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    attempts = [("inspect", tmp_path / "m.py", "--json", tmp_path / "link.json"),
                ("check", tmp_path / "m.py", "--junit", tmp_path / "m.py"),
                ("check", tmp_path / "m.py", "--junit", tmp_path / "r.x", "--json", tmp_path / "r.x"),
                ("sweep-lr", tmp_path / "m.py", "--plot", tmp_path / "c.yaml", "--config", tmp_path / "c.yaml"),
                ("compare", tmp_path / "m.py:build_model", "--csv", tmp_path / "m.py"),
                ("run", "--json", tmp_path / "m.py", tmp_path / "m.py")]
    for args in attempts:
        result = invoke(*args, "--steps", "2") if args[0] != "run" else invoke(*args)
        assert result.exit_code == 2 and "error:" in result.output, (args, result.output)
        assert not gradscope_frames(result.output), result.output
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_argparse_in_build_model_sees_the_model_file_not_gradscopes_options(tmp_path):
    (tmp_path / "m.py").write_text(
        "import argparse, sys\nfrom torch import nn\n"
        "def build_model():\n    parser = argparse.ArgumentParser()\n    parser.add_argument('--width', type=int, default=8)\n"
        "    args = parser.parse_args()\n    assert sys.argv[0].endswith('m.py'), sys.argv\n"
        "    return nn.Sequential(nn.Linear(4, args.width), nn.ReLU(), nn.Linear(args.width, 2))\n")
    result = invoke("inspect", tmp_path / "m.py", "--steps", "2", "--quiet")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("runs", ['[{"layers": 3}]', '[{"layers": [{"name": "fc"}]}]', '"runs"', '[7]'])
def test_a_malformed_baseline_report_is_a_usage_error(tmp_path, runs):
    (tmp_path / "b.json").write_text('{"schema": "gradscope.report/1", "runs": %s}' % runs)
    result = invoke("check", HEALTHY, "--steps", "2", "--baseline", tmp_path / "b.json")
    assert result.exit_code == 2 and "baseline" in result.output, result.output
    assert not gradscope_frames(result.output), result.output


def test_a_pyproject_whose_tool_is_not_a_table_does_not_break_gradscope(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('tool = "x"\n')
    monkeypatch.chdir(tmp_path)
    result = invoke("inspect", HEALTHY, "--steps", "2", "--quiet")
    assert result.exit_code == 0, result.output


def test_a_yaml_alias_bomb_under_a_valid_key_gives_a_short_message(tmp_path):
    # 7 levels of 9 aliases: 4.8 million strings from a few hundred bytes; repr of the whole is about 25 MB
    lines = ["steps:", "  - &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"  - &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 7)]
    (tmp_path / "c.yaml").write_text("\n".join(lines) + "\n")
    result = invoke("inspect", HEALTHY, "--config", tmp_path / "c.yaml")
    assert result.exit_code == 2 and "steps" in result.output and "int" in result.output, result.output[:2000]
    assert len(result.output) < 2000, len(result.output)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_a_model_in_another_float_dtype_gets_synthetic_data_in_its_dtype(tmp_path, dtype):
    (tmp_path / "m.py").write_text(f"import torch\n{MLP}\n_build = build_model\n"
                                   f"def build_model():\n    return _build().to(torch.{dtype})\n")
    result = invoke("inspect", tmp_path / "m.py", "--steps", "2", "--quiet")
    assert result.exit_code == 0, result.output


def test_there_are_at_least_thirty_input_cases():
    assert len(CASES) >= 30
