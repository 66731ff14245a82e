"""
Saving and safely loading PCR networks.

A model is two files side by side: ``NAME.keras`` (the Keras 3 archive)
and ``NAME.json`` (the sidecar: SHA-256 of the archive, normalisation, n,
sigma, vector scale, tile size, bands, training-data manifest, metrics and
software versions).  Loading verifies the checksum *before* Keras reads the
archive, then loads it with ``safe_mode=True`` (no pickle, no lambdas) and
checks the output shapes against the sidecar.

Keras is imported only inside the functions that need it.
"""

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from astropais.utils import json_default, package_versions, sha256_file

from .normalisation import normalise_image, validate_normalisation

__all__ = ['SIDECAR_FORMAT', 'DEFAULT_MODEL_NAME', 'PCRNetwork',
           'sha256_file', 'sidecar_path', 'save_model', 'load_model',
           'default_model_path']

#: Version of the sidecar layout written by `save_model`.
SIDECAR_FORMAT = 1

#: File name of the model shipped in ``astropais/data/``.
DEFAULT_MODEL_NAME = 'pcr_model.keras'

_REQUIRED_KEYS = ('format', 'model_file', 'sha256', 'n', 'n_bands',
                  'sigma', 'vector_scale', 'normalisation')


def sidecar_path(model_path):
    """
    The JSON sidecar belonging to a ``.keras`` file.

    Parameters
    ----------
    model_path : str or `pathlib.Path`
        Path of the ``.keras`` file.

    Returns
    -------
    path : `pathlib.Path`
        The same path with the suffix ``.json``.
    """
    return Path(model_path).with_suffix('.json')


def default_model_path():
    """
    Path of the model shipped with astropais.

    Returns
    -------
    path : `pathlib.Path`
        ``astropais/data/pcr_model.keras`` (it may not exist).
    """
    return Path(__file__).resolve().parent.parent / 'data' / DEFAULT_MODEL_NAME


def _versions():
    """Software versions recorded in the sidecar."""
    import keras

    backend = keras.backend.backend()
    versions = package_versions(['astropais', 'keras', backend, 'numpy'])
    return {'astropais': versions['astropais'], 'keras': versions['keras'],
            'backend': backend, 'backend_version': versions[backend],
            'numpy': versions['numpy']}


def save_model(model, path, *, n, sigma, vector_scale, normalisation=None,
               tile_size=None, bands=None, architecture=None,
               dataset_manifest=None, metrics=None, extra=None):
    """
    Save a Keras PCR network as ``.keras`` plus a JSON sidecar.

    Parameters
    ----------
    model : `keras.Model`
        The network (as built by `~astropais.model.build_network`).
    path : str or `pathlib.Path`
        Output path; must end in ``.keras``.  The sidecar is written next
        to it with the suffix ``.json``.
    n : int
        Number of slots.
    sigma : float
        Heatmap Gaussian width (pixels) of the training labels.
    vector_scale : float
        Pixels per network unit of the vector output.
    normalisation : dict or None, optional
        Input normalisation parameters (default: the default asinh).
    tile_size : int or None, optional
        Training crop size (pixels).
    bands : list of str or None, optional
        Band names; their number must match the model input.
    architecture : dict or None, optional
        Builder parameters (depth, base filters, ...).
    dataset_manifest : dict or None, optional
        The training dataset's manifest.
    metrics : dict or None, optional
        Final training/validation metrics.
    extra : dict or None, optional
        More JSON-serialisable entries.

    Returns
    -------
    sidecar : dict
        The sidecar written.

    Raises
    ------
    ValueError
        If ``path`` does not end in ``.keras`` or ``bands`` does not match.
    """
    path = Path(path)
    if path.suffix != '.keras':
        raise ValueError(f'model path must end in .keras, got {path.name!r}')
    n_bands = int(model.inputs[0].shape[-1])
    if bands is not None and len(bands) != n_bands:
        raise ValueError(f'{len(bands)} band names for a {n_bands}-band model')
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    sidecar = {
        'format': SIDECAR_FORMAT,
        'model_file': path.name,
        'sha256': sha256_file(path),
        'created': datetime.now(timezone.utc).isoformat(timespec='seconds'),
        'n': int(n),
        'n_bands': n_bands,
        'bands': list(bands) if bands is not None else None,
        'sigma': float(sigma),
        'vector_scale': float(vector_scale),
        'tile_size': None if tile_size is None else int(tile_size),
        'normalisation': validate_normalisation(normalisation),
        'architecture': architecture or {},
        'dataset_manifest': dataset_manifest or {},
        'metrics': metrics or {},
        'versions': _versions(),
        **(extra or {}),
    }
    text = json.dumps(sidecar, indent=2, default=json_default)
    sidecar_path(path).write_text(text + '\n')
    return json.loads(text)


def _resolve_paths(path):
    """Model and sidecar paths from a ``.keras`` or ``.json`` path."""
    if path is None:
        model_path = default_model_path()
        if not model_path.exists():
            raise FileNotFoundError(
                'no default model is shipped with astropais yet '
                f'(expected {model_path}); pass the path of a model trained '
                'with astropais-train')
    else:
        model_path = Path(path)
    if model_path.suffix == '.json':
        json_path = model_path
        if not json_path.exists():
            raise FileNotFoundError(f'model sidecar {json_path} does not exist')
        sidecar = _read_sidecar(json_path)
        model_path = json_path.parent / sidecar['model_file']
    elif model_path.suffix == '.keras':
        json_path = sidecar_path(model_path)
        sidecar = None
    else:
        raise ValueError(f'a model path must end in .keras or .json, got '
                         f'{model_path.name!r}')
    if not model_path.exists():
        raise FileNotFoundError(f'model file {model_path} does not exist')
    if sidecar is None:
        if not json_path.exists():
            raise FileNotFoundError(
                f'model sidecar {json_path} does not exist; a model is only '
                'loaded with its checksum sidecar')
        sidecar = _read_sidecar(json_path)
    return model_path, json_path, sidecar


def _read_sidecar(json_path):
    """Read and validate a sidecar file."""
    try:
        sidecar = json.loads(Path(json_path).read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f'model sidecar {json_path} is not valid JSON: '
                         f'{exc}') from exc
    if not isinstance(sidecar, dict):
        raise ValueError(f'model sidecar {json_path} is not a JSON object')
    missing = [key for key in _REQUIRED_KEYS if key not in sidecar]
    if missing:
        raise ValueError(f'model sidecar {json_path} lacks {missing}')
    if sidecar['format'] != SIDECAR_FORMAT:
        raise ValueError(f'model sidecar {json_path} has format '
                         f'{sidecar["format"]!r}; this astropais reads '
                         f'format {SIDECAR_FORMAT}')
    return sidecar


def _check_output_shapes(model, sidecar, model_path):
    """Raise if the model's inputs/outputs do not match the sidecar."""
    n, n_bands = int(sidecar['n']), int(sidecar['n_bands'])
    expected = {'heatmap': (None, None, None),
                'vectors': (None, None, None, n, 2),
                'fractions': (None, None, None, n_bands, n)}
    outputs = model.output
    if not isinstance(outputs, dict) or set(outputs) != set(expected):
        names = sorted(outputs) if isinstance(outputs, dict) else type(
            outputs).__name__
        raise ValueError(f'wrong outputs in {model_path}: expected '
                         f'{sorted(expected)}, got {names}')
    problems = []
    for key, shape in expected.items():
        got = tuple(outputs[key].shape)
        if len(got) != len(shape) or any(
                want is not None and have != want
                for have, want in zip(got, shape)):
            problems.append(f'{key} has shape {got}, expected {shape}')
    in_shape = tuple(model.inputs[0].shape)
    if len(in_shape) != 4 or in_shape[-1] != n_bands:
        problems.append(f'input has shape {in_shape}, expected '
                        f'(None, None, None, {n_bands})')
    if problems:
        raise ValueError(f'wrong output shapes in {model_path} for n={n}, '
                         f'n_bands={n_bands}: ' + '; '.join(problems))


def load_model(path=None):
    """
    Load a PCR network safely.

    Parameters
    ----------
    path : str, `pathlib.Path` or None, optional
        The ``.keras`` file or its ``.json`` sidecar; `None` loads the model
        shipped in ``astropais/data/``.

    Returns
    -------
    network : `PCRNetwork`
        The network with its metadata.

    Raises
    ------
    FileNotFoundError
        If the model file or its sidecar is missing (or, for ``path=None``,
        no default model is shipped).
    ValueError
        On a checksum mismatch, a corrupt file or sidecar, or outputs whose
        shapes do not match the sidecar.
    """
    model_path, json_path, sidecar = _resolve_paths(path)
    digest = sha256_file(model_path)
    if digest != sidecar['sha256']:
        raise ValueError(
            f'checksum mismatch for {model_path}: SHA-256 is {digest}, the '
            f'sidecar {json_path.name} records {sidecar["sha256"]}; the file '
            'was modified or corrupted, refusing to load it')

    import keras

    from . import layers  # noqa: F401  (registers the custom layers)
    try:
        model = keras.saving.load_model(model_path, compile=False,
                                        safe_mode=True)
    except Exception as exc:  # Keras raises many types for a bad archive
        raise ValueError(f'model file {model_path} is corrupt or not a Keras '
                         f'model archive: {type(exc).__name__}: {exc}') from exc
    _check_output_shapes(model, sidecar, model_path)
    return PCRNetwork(model, sidecar)


class PCRNetwork:
    """
    A trained PCR network with its metadata.

    Parameters
    ----------
    model : `keras.Model`
        The network (outputs ``heatmap``, ``vectors``, ``fractions``).
    metadata : dict
        The sidecar content (see `save_model`).
    precision : {'float32', 'bfloat16'}, optional
        The arithmetic ``model`` computes in (see `cast`).
    """

    def __init__(self, model, metadata, precision='float32'):
        self.model = model
        self.metadata = dict(metadata)
        self.normalisation = validate_normalisation(
            self.metadata.get('normalisation'))
        self.precision = precision

    def __repr__(self):
        return (f'<PCRNetwork n={self.n} n_bands={self.n_bands} '
                f'sigma={self.sigma} tile_size={self.tile_size} '
                f'precision={self.precision}>')

    def cast(self, precision):
        """
        This network computing in another precision.

        Parameters
        ----------
        precision : {'auto', 'float32', 'bfloat16'}
            See `~astropais.model.precision.resolve_precision`.

        Returns
        -------
        network : `PCRNetwork`
            ``self`` if it already computes in that precision, else a new
            network with the same weights and metadata (``self`` is not
            modified).
        """
        from .precision import cast_model, resolve_precision
        precision = resolve_precision(precision)
        if precision == self.precision:
            return self
        if self.precision != 'float32':
            raise ValueError(f'cannot cast a {self.precision} network; '
                             'cast the float32 one')
        return PCRNetwork(cast_model(self.model, precision), self.metadata,
                          precision)

    @property
    def n(self):
        """Number of slots (nearest sources) per pixel."""
        return int(self.metadata['n'])

    @property
    def slots(self):
        """
        The slot rule of the training labels (`astropais.pcr.SLOT_RULES`):
        the sidecar's dataset manifest's ``slots``, ``'nearest'`` where it
        records none (datasets written before the rule was recorded).
        """
        manifest = self.metadata.get('dataset_manifest') or {}
        return str(manifest.get('slots', 'nearest'))

    @property
    def n_bands(self):
        """Number of input bands."""
        return int(self.metadata['n_bands'])

    @property
    def sigma(self):
        """Heatmap Gaussian width (pixels) of the training labels."""
        return float(self.metadata['sigma'])

    @property
    def vector_scale(self):
        """Pixels per network unit of the vector output."""
        return float(self.metadata['vector_scale'])

    @property
    def tile_size(self):
        """Training crop size in pixels (`None` if not recorded)."""
        size = self.metadata.get('tile_size')
        return None if size is None else int(size)

    @property
    def size_multiple(self):
        """Inputs are padded internally to a multiple of this size."""
        import keras
        poolings = sum(isinstance(layer, keras.layers.MaxPooling2D)
                       for layer in self.model.layers)
        return 2 ** poolings

    def normalise(self, image, noise_sigma):
        """
        Normalise an image with this model's recorded transform.

        Parameters
        ----------
        image : array_like
            ``(H, W)``, ``(H, W, b)`` or ``(B, H, W, b)``, band axis last.
        noise_sigma : float or array_like
            Background noise per band (see
            `~astropais.model.normalise_image`).

        Returns
        -------
        normalised : `numpy.ndarray`
            float32 array, same shape as ``image``.
        """
        return normalise_image(image, noise_sigma, self.normalisation)

    def predict(self, batch, batch_size=8):
        """
        Predict the PCR of a batch of normalised images.

        Inputs whose height or width is not a multiple of `size_multiple`
        are zero-padded (the sky level after normalisation) and the outputs
        cropped back.

        Parameters
        ----------
        batch : array_like
            ``(B, h, w, b)`` normalised float32 (see `normalise`).
        batch_size : int, optional
            Images per forward pass.

        Returns
        -------
        outputs : dict of `numpy.ndarray`
            ``heatmap`` ``(B, h, w)``, ``vectors`` ``(B, h, w, n, 2)`` in
            pixels and ``fractions`` ``(B, h, w, b, n)``, all float32.

        Raises
        ------
        ValueError
            If the batch is not 4-D with this model's number of bands, or
            contains non-finite values.
        """
        if isinstance(batch_size, bool) or int(batch_size) != batch_size \
                or batch_size < 1:
            raise ValueError(f'batch_size must be a positive integer, got '
                             f'{batch_size!r}')
        batch_size = int(batch_size)
        batch = np.asarray(batch, dtype=np.float32)
        if batch.ndim != 4 or batch.shape[-1] != self.n_bands:
            raise ValueError(f'batch must have shape (B, h, w, {self.n_bands})'
                             f' for this {self.n_bands}-band model, got '
                             f'{batch.shape}')
        if not np.all(np.isfinite(batch)):
            raise ValueError('batch contains non-finite values; normalise the '
                             'image first (it maps NaN/inf to 0)')
        h, w = batch.shape[1:3]
        multiple = self.size_multiple
        pad_h, pad_w = -h % multiple, -w % multiple
        if pad_h or pad_w:
            batch = np.pad(batch, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)))
        if len(batch) == 0:
            shapes = {'heatmap': (0, h, w), 'vectors': (0, h, w, self.n, 2),
                      'fractions': (0, h, w, self.n_bands, self.n)}
            return {key: np.zeros(shape, np.float32)
                    for key, shape in shapes.items()}
        # predict_on_batch per chunk: Keras' predict() builds a data
        # pipeline on every call, which dominates on small images.
        keys = ('heatmap', 'vectors', 'fractions')
        parts = {key: [] for key in keys}
        for start in range(0, len(batch), batch_size):
            result = self.model.predict_on_batch(
                batch[start:start + batch_size])
            for key in keys:
                parts[key].append(np.asarray(result[key])[:, :h, :w])
        # One chunk (a lone tile) needs no concatenation, and float32
        # outputs no second copy; a read-only backend buffer (JAX) is copied
        # so that callers get writable arrays.
        outputs = {}
        for key in keys:
            out = (parts[key][0] if len(parts[key]) == 1
                   else np.concatenate(parts[key]))
            out = out.astype(np.float32, copy=False)
            outputs[key] = out if out.flags.writeable else out.copy()
        return outputs
