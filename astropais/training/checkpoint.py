"""
Training checkpoints: the compiled model with its optimizer state in a
``.keras`` archive, and a JSON state file (epoch, position, step, config,
SHA-256 of the archive).  No pickle; loaded with ``safe_mode=True``.
"""

import json
import os
from pathlib import Path

from astropais.utils import json_default, sha256_file

__all__ = ['CHECKPOINT_MODEL', 'CHECKPOINT_STATE', 'save_checkpoint',
           'load_checkpoint', 'has_checkpoint']

#: File names inside the checkpoint directory.
CHECKPOINT_MODEL = 'last.keras'
CHECKPOINT_STATE = 'last.json'


def has_checkpoint(directory):
    """
    Whether a checkpoint exists in ``directory``.

    Parameters
    ----------
    directory : str or `pathlib.Path`
        Checkpoint directory.

    Returns
    -------
    exists : bool
        True if the state file exists.
    """
    return (Path(directory) / CHECKPOINT_STATE).is_file()


def save_checkpoint(directory, model, state):
    """
    Write a checkpoint, replacing the previous one atomically.

    Parameters
    ----------
    directory : str or `pathlib.Path`
        Checkpoint directory (created if needed).
    model : `keras.Model`
        The compiled model; its optimizer state is saved with it.
    state : dict
        JSON-serialisable training state.

    Returns
    -------
    state : dict
        The state written, with ``sha256`` of the model archive added.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp_model = directory / ('tmp_' + CHECKPOINT_MODEL)
    model.save(tmp_model)
    state = {**state, 'sha256': sha256_file(tmp_model)}
    tmp_state = directory / ('tmp_' + CHECKPOINT_STATE)
    tmp_state.write_text(json.dumps(state, indent=2, default=json_default)
                         + '\n')
    # Model first, then state: a crash in between leaves a state whose
    # checksum no longer matches, which load_checkpoint reports.
    os.replace(tmp_model, directory / CHECKPOINT_MODEL)
    os.replace(tmp_state, directory / CHECKPOINT_STATE)
    return state


def load_checkpoint(directory):
    """
    Load the last checkpoint.

    Parameters
    ----------
    directory : str or `pathlib.Path`
        Checkpoint directory.

    Returns
    -------
    model : `keras.Model`
        The compiled model with its optimizer state restored.
    state : dict
        The training state.

    Raises
    ------
    FileNotFoundError
        If there is no checkpoint.
    ValueError
        If the archive does not match its recorded checksum or cannot be
        read.
    """
    directory = Path(directory)
    state_path = directory / CHECKPOINT_STATE
    model_path = directory / CHECKPOINT_MODEL
    if not state_path.is_file() or not model_path.is_file():
        raise FileNotFoundError(f'no checkpoint to resume from in {directory}')
    state = json.loads(state_path.read_text())
    if sha256_file(model_path) != state.get('sha256'):
        raise ValueError(f'checkpoint {model_path} does not match the SHA-256 '
                         f'in {state_path.name} (corrupted or interrupted)')

    import keras

    from astropais.model import layers, losses  # noqa: F401 (registration)
    try:
        model = keras.saving.load_model(model_path, compile=True,
                                        safe_mode=True)
    except Exception as exc:  # Keras raises many types for a bad archive
        raise ValueError(f'checkpoint {model_path} cannot be read: '
                         f'{type(exc).__name__}: {exc}') from exc
    return model, state
