"""Features against an independent Kaldi implementation (kaldi-native-fbank, test-only oracle)."""

import numpy as np
import pytest

kn = pytest.importorskip("kaldi_native_fbank")

from conftest import ROOT  # noqa: E402
from datasets.feat_opts import OptionError, read_options  # noqa: E402
from datasets.kaldi_feats import compute, compute_batch, num_frames  # noqa: E402


def knf_frame_opts(dst, fr, **override):
    dst.samp_freq = fr.sample_frequency
    dst.frame_shift_ms = fr.frame_shift
    dst.frame_length_ms = fr.frame_length
    dst.dither = 0.0
    dst.preemph_coeff = fr.preemphasis_coefficient
    dst.remove_dc_offset = fr.remove_dc_offset
    dst.window_type = fr.window_type
    dst.round_to_power_of_two = fr.round_to_power_of_two
    dst.blackman_coeff = fr.blackman_coeff
    dst.snip_edges = fr.snip_edges
    for k, v in override.items():
        setattr(dst, k, v)


def knf_frames(x, fr, **override):
    o = kn.RawAudioSamplesOptions()
    # framing does not depend on FFT padding (we pad below); knf aborts on padded raw frames
    knf_frame_opts(o.frame_opts, fr, round_to_power_of_two=False, **override)
    r = kn.OnlineRawAudioSamples(o)
    r.accept_waveform(fr.sample_frequency, x.tolist())
    r.input_finished()
    return np.array([r.get_frame(i) for i in range(r.num_frames_ready)], dtype=np.float64).reshape(-1, fr.window_size)


def knf_spectrogram(x, opts):
    """Kaldi compute-spectrogram-feats assembled from knf's framing and its Rfft."""
    fr = opts.frame
    windows = knf_frames(x, fr)  # dc removal, pre-emphasis, window as configured
    raw = knf_frames(x, fr, preemph_coeff=0.0, window_type="rectangular")  # only dc removal: raw energy
    n = fr.padded_window_size
    fft = kn.Rfft(n)
    out = []
    for w, r in zip(windows, raw):
        packed = np.array(fft.compute(np.pad(w, (0, n - len(w))).tolist()), dtype=np.float64)
        re = np.concatenate([[packed[0]], packed[2::2], [packed[1]]])
        im = np.concatenate([[0.0], packed[3::2], [0.0]])
        logp = np.log(np.maximum(re**2 + im**2, np.finfo(np.float32).eps))
        e = np.log(max(float(r @ r) if opts.raw_energy else float(w @ w), np.finfo(np.float32).eps))
        logp[0] = max(e, np.log(opts.energy_floor)) if opts.energy_floor > 0 else e
        out.append(logp)
    return np.array(out).reshape(-1, n // 2 + 1)


def knf_mel(x, opts, kind):
    o = kn.FbankOptions() if kind == "fbank" else kn.MfccOptions()
    knf_frame_opts(o.frame_opts, opts.frame)
    o.mel_opts.num_bins = opts.mel.num_mel_bins
    o.mel_opts.low_freq = opts.mel.low_freq
    o.mel_opts.high_freq = opts.mel.high_freq
    o.use_energy = opts.use_energy
    o.energy_floor = opts.energy_floor
    if kind == "mfcc":
        o.num_ceps = opts.num_ceps
        o.cepstral_lifter = opts.cepstral_lifter
    f = (kn.OnlineFbank if kind == "fbank" else kn.OnlineMfcc)(o)
    f.accept_waveform(opts.frame.sample_frequency, x.tolist())
    f.input_finished()
    return np.array([f.get_frame(i) for i in range(f.num_frames_ready)]).reshape(-1, opts.dim)


def signals():
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    speechy = 3000 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 300 * rng.standard_normal(16000)
    return {
        "noise": (2000 * rng.standard_normal(12345)).astype(np.float32),
        "tone": speechy.astype(np.float32),
        "silence": np.zeros(8000, dtype=np.float32),
        "one-window": (1000 * rng.standard_normal(400)).astype(np.float32),
        "clipped-full-scale": np.clip(20 * speechy, -32768, 32767).astype(np.float32)[:7000],
    }


CASES = [("spect", "conf/spect_161.conf"), ("fbank", "conf/fbank_80.conf"), ("mfcc", "conf/mfcc_30.conf")]


@pytest.mark.parametrize("snip", ["true", "false"])
@pytest.mark.parametrize("kind, conf", CASES)
@pytest.mark.parametrize("name", list(signals()))
def test_matches_kaldi_native_fbank(kind, conf, name, snip):
    x = signals()[name]
    opts, _ = read_options(kind, ROOT / conf, ["--dither=0", f"--snip-edges={snip}"])
    ours = compute(x, opts)
    ref = knf_spectrogram(x, opts) if kind == "spect" else knf_mel(x, opts, kind)
    assert ours.shape == ref.shape and ours.dtype == np.float32
    assert ours.shape[0] == num_frames(len(x), opts.frame)
    assert np.abs(ours - ref).max() <= 1e-3, (kind, name, snip, np.abs(ours - ref).max())


def test_spect_161_shape_and_columns():
    opts, _ = read_options("spect", ROOT / "conf/spect_161.conf", ["--dither=0"])
    assert opts.dim == 161 and opts.frame.window_size == 320 and opts.frame.window_shift == 160
    x = signals()["tone"]
    f = compute(x, opts)
    assert f.shape == (1 + (16000 - 320) // 160, 161)  # snip-edges: 1 + (N - 320) // 160
    assert abs(np.argmax(f[:, 1:].mean(0)) + 1 - 220 / 50) <= 1  # bin k = 50 k Hz: the 220 Hz tone


@pytest.mark.parametrize("window", ["povey", "hamming", "hanning", "rectangular", "blackman"])
@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--round-to-power-of-two=true"],
        ["--remove-dc-offset=false", "--preemphasis-coefficient=0"],
        ["--raw-energy=false"],
        ["--energy-floor=1e6"],
    ],
)
def test_spectrogram_options(window, extra):
    x = signals()["noise"]
    opts, _ = read_options("spect", ROOT / "conf/spect_161.conf", ["--dither=0", f"--window-type={window}", *extra])
    assert np.abs(compute(x, opts) - knf_spectrogram(x, opts)).max() <= 1e-3


@pytest.mark.parametrize(
    "extra",
    [
        ["--use-energy=true"],
        ["--high-freq=-400", "--low-freq=100"],
        ["--num-mel-bins=40"],
        ["--use-energy=true", "--energy-floor=1e5"],
        ["--window-type=hamming", "--snip-edges=false"],
    ],
)
def test_fbank_options(extra):
    x = signals()["tone"]
    opts, _ = read_options("fbank", ROOT / "conf/fbank_80.conf", ["--dither=0", *extra])
    assert np.abs(compute(x, opts) - knf_mel(x, opts, "fbank")).max() <= 1e-3


@pytest.mark.parametrize("extra", [[], ["--use-energy=false"], ["--cepstral-lifter=0"], ["--num-ceps=13", "--num-mel-bins=23"]])
def test_mfcc_options(extra):
    x = signals()["noise"]
    opts, _ = read_options("mfcc", ROOT / "conf/mfcc_30.conf", ["--dither=0", *extra])
    assert np.abs(compute(x, opts) - knf_mel(x, opts, "mfcc")).max() <= 1e-3


def test_batch_equals_single_and_dither_is_seeded():
    sig = signals()
    opts, _ = read_options("spect", ROOT / "conf/spect_161.conf")
    assert opts.frame.dither == 1.0  # Kaldi default kept
    waves = [sig["noise"], sig["silence"], sig["tone"]]
    rngs = lambda: [np.random.default_rng(i) for i in range(3)]  # noqa: E731
    batch = compute_batch(waves, opts, rngs())
    for w, b, r in zip(waves, batch, rngs()):
        assert np.array_equal(compute(w, opts, r), b)
    again = compute_batch(waves, opts, rngs())
    assert all(np.array_equal(a, b) for a, b in zip(batch, again))
    assert np.isfinite(batch[1]).all() and batch[1][:, 0].max() < 15  # dithered silence: low, finite
    with pytest.raises(ValueError, match="one random generator per utterance"):
        compute_batch(waves, opts)


def test_too_short_gives_no_frames():
    opts, _ = read_options("spect", ROOT / "conf/spect_161.conf", ["--dither=0"])
    assert compute(np.zeros(319, np.float32), opts).shape == (0, 161)
    assert compute(np.zeros(320, np.float32), opts).shape == (1, 161)


@pytest.mark.parametrize(
    "text, msg",
    [
        ("--frame-length=20\n--frame-lenght=25\n", ":2: unknown option --frame-lenght for spect"),
        ("--num-mel-bins=80\n", ":1: unknown option --num-mel-bins for spect"),
        ("--snip-edges=maybe\n", ":1: --snip-edges expects true or false"),
        ("--window-type=kaiser\n", ":1: --window-type must be one of"),
        ("frame-length=20\n", ":1: expected --name=value"),
        ("--dither=abc\n", ":1: --dither expects a float"),
    ],
)
def test_option_file_errors_name_file_and_line(tmp_path, text, msg):
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    with pytest.raises(OptionError) as e:
        read_options("spect", conf)
    assert f"{conf}{msg}" in str(e.value)


def test_option_file_comments_and_bare_booleans(tmp_path):
    conf = tmp_path / "ok.conf"
    conf.write_text("# comment\n\n--frame-length=20   # trailing comment\n--snip-edges\n--round-to-power-of-two=false\n")
    opts, _ = read_options("spect", conf)
    assert opts.frame.frame_length == 20 and opts.frame.snip_edges and opts.dim == 161
    with pytest.raises(OptionError, match="bad mel range"):
        read_options("fbank", None, ["--high-freq=9000"])
