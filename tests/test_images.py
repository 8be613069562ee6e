import numpy as np
import pytest
import tensorflow as tf

from extract.reading import images
from tests.conftest import write_bad_files


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad")
    return folder, write_bad_files(folder)


def test_every_decodable_kind_becomes_a_model_input(bad_files):
    folder, expected = bad_files
    for name, decodes in expected.items():
        encoded = (folder / name).read_bytes()
        reason = images.decode_error(encoded, 32)
        if decodes:
            assert reason is None, name
            pixels = images.preprocess(tf.constant(encoded), 32, "mobilenet_v2").numpy()
            assert pixels.shape == (32, 32, 3) and pixels.dtype == np.float32
            assert -1.0 <= pixels.min() and pixels.max() <= 1.0
        else:
            assert reason, name
            assert "\n" not in reason and "Op:" not in reason and "{{" not in reason


def test_reasons_say_what_is_wrong(bad_files):
    folder, _ = bad_files
    assert images.decode_error(b"", 32) == "empty file"
    assert "format" in images.decode_error((folder / "notes.txt").read_bytes(), 32).lower()
    assert "jpeg" in images.decode_error((folder / "truncated.jpg").read_bytes(), 32).lower()


def test_preprocessing_is_the_tutorials_bilinear_resize_and_scaling():
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(50, 70, 3), dtype=np.uint8)
    encoded = tf.io.encode_png(pixels)
    expected = tf.image.resize(pixels, (24, 24), method="bilinear", antialias=False).numpy() / 127.5 - 1
    np.testing.assert_allclose(images.preprocess(encoded, 24, "mobilenet_v2").numpy(), expected, atol=1e-6)


def test_grey_and_alpha_become_three_channels():
    grey = tf.io.encode_png(np.full((8, 8, 1), 200, np.uint8))
    rgba = tf.io.encode_png(np.dstack([np.full((8, 8, 3), 10, np.uint8), np.zeros((8, 8, 1), np.uint8)]))
    assert images.decode(grey).numpy().tolist() == np.full((8, 8, 3), 200).tolist()
    assert images.decode(rgba).numpy().tolist() == np.full((8, 8, 3), 10).tolist()
