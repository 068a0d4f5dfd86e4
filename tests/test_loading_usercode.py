"""Importing the user's model file, and attributing errors to the user's own frames."""

from __future__ import annotations

import sys
import uuid


from loading_helpers import load_error, write

from gradscope.errors import GradscopeError
from gradscope.loading import load_problem
from gradscope.loading.usercode import import_file, parse_spec, user_error
from gradscope.settings import Settings

LINEAR = """
from torch import nn
def build_model():
    return nn.Linear(4, 2)
"""


def test_missing_file_says_not_found(tmp_path):
    assert "not found" in load_error(tmp_path / "nope.py").message


def test_directory_is_not_a_model_file(tmp_path):
    assert "directory" in load_error(tmp_path).message


def test_non_python_file_is_refused(tmp_path):
    path = write(tmp_path, LINEAR, "m.txt")
    assert ".py" in load_error(path).message


def test_name_after_colon_must_be_a_python_name(tmp_path):
    path = write(tmp_path, LINEAR)
    assert "not a Python name" in load_error(f"{path}:1net").message


def test_spec_splits_name_after_colon(tmp_path):
    path = write(tmp_path, LINEAR)
    assert parse_spec(f"{path}:make_net") == (path, "make_net")
    assert parse_spec(str(path)) == (path, None)


def test_missing_name_lists_modules_and_functions_defined_in_the_file(tmp_path):
    path = write(tmp_path, """
        import math
        from torch import nn
        net = nn.Linear(3, 1)
        def make():
            return nn.Linear(3, 1)
        SIZE = 3
    """)
    err = load_error(f"{path}:missing")
    assert "'missing'" in err.message
    assert "net" in err.fix and "make" in err.fix
    # Imported names and plain values are not candidates.
    assert "math" not in err.fix and "SIZE" not in err.fix and "nn" not in err.fix.split(": ")[1].split(", ")


def test_syntax_error_names_the_file_and_line(tmp_path):
    path = write(tmp_path, "from torch import nn\n\ndef build_model(:\n    pass\n")
    err = load_error(path)
    assert "SyntaxError while importing" in err.message and str(path) in err.message
    assert "SyntaxError" in err.user_traceback and "line 3" in err.user_traceback


def test_exception_while_importing_keeps_only_user_frames(tmp_path):
    path = write(tmp_path, """
        def helper():
            raise ValueError("boom at import")
        helper()
    """)
    err = load_error(path)
    assert err.message.startswith("ValueError while importing") and "boom at import" in err.message
    tb = err.user_traceback
    assert "helper" in tb and "m.py" in tb and tb.rstrip().endswith("ValueError: boom at import")
    assert "gradscope" not in tb.replace(str(tmp_path), "") and "importlib" not in tb


def test_each_import_is_a_fresh_module_left_out_of_sys_modules(tmp_path):
    path = write(tmp_path, "CALLS = []\nCALLS.append(1)\n")
    path_before = list(sys.path)
    first, second = import_file(path, "m.py"), import_file(path, "m.py")
    assert first is not second and first.CALLS == [1] and second.CALLS == [1]
    assert first.__name__ not in sys.modules and second.__name__ not in sys.modules
    assert sys.path == path_before


def test_sibling_modules_import_while_the_folder_is_on_sys_path(tmp_path):
    sibling = f"sibling_{uuid.uuid4().hex}"
    write(tmp_path, "WIDTH = 7\n", f"{sibling}.py")
    path = write(tmp_path, f"""
        from torch import nn
        from {sibling} import WIDTH
        def build_model():
            return nn.Linear(WIDTH, 2)
    """)
    try:
        problem = load_problem(str(path), Settings())
        assert problem.make_model(0).in_features == 7
        assert str(tmp_path) not in sys.path
    finally:
        sys.modules.pop(sibling, None)


def test_error_in_forward_is_attributed_to_the_users_forward(tmp_path):
    path = write(tmp_path, """
        from torch import nn
        class Boom(nn.Module):
            def forward(self, x):
                return self.explode(x)
            def explode(self, x):
                raise RuntimeError("bad forward")
        def build_model():
            return nn.Sequential(nn.Linear(4, 4), Boom())
    """)
    err = load_error(path)
    assert "running the model's forward pass on a batch of shape (2, 4)" in err.message
    tb = err.user_traceback
    # The user's frames in order (innermost last); torch's Sequential and Module.__call__ frames are gone.
    assert tb.index("in forward") < tb.index("in explode")
    assert "torch" not in tb and "RuntimeError: bad forward" in tb


def test_error_in_build_model_says_what_gradscope_was_doing(tmp_path):
    path = write(tmp_path, """
        def build_model():
            return 1 / 0
    """)
    err = load_error(path)
    assert "calling build_model()" in err.message and "ZeroDivisionError" in err.message
    assert "build_model" in err.user_traceback


def test_error_in_named_builder_names_it(tmp_path):
    path = write(tmp_path, """
        def make_net():
            raise KeyError("width")
    """)
    assert "calling make_net()" in load_error(f"{path}:make_net").message


def test_user_error_keeps_frames_outside_gradscope_and_torch_in_call_order():
    def outer():
        inner()

    def inner():
        raise ValueError("deep")

    try:
        outer()
    except ValueError as exc:
        err = user_error(exc, "running step 3")
    assert isinstance(err, GradscopeError)
    assert err.message == "ValueError while running step 3: deep"
    tb = err.user_traceback
    assert tb.index("in outer") < tb.index("in inner") < tb.index("ValueError: deep")
