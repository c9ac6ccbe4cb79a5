#!/usr/bin/env python3
"""Reads a GGUF file with llama.cpp's own Python reader (the `gguf` package, gguf.GGUFReader) and prints, as one
JSON line, what it sees: every metadata field with its GGUF type names and value, and every tensor with its ggml
type name, dims (ggml order, as stored) and values as float32 (F32, F16 and BF16 tensors).

Used by test/peft-gguf.test.ts when TUNEKIT_GGUF_PYTHON names a Python that has `gguf` and numpy; never a
dependency of tunekit. Usage: check_gguf.py FILE.gguf
"""
import json
import math
import sys

import numpy as np
from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType


def json_float(value):
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return value


def field_value(field):
    main = field.types[0]
    if main == GGUFValueType.ARRAY and len(field.types) > 2:
        return None  # arrays of arrays: gguf-py's contents() flattens them, so report the types only
    value = field.contents()
    if isinstance(value, list):
        return [json_float(v) if isinstance(v, float) else v for v in value]
    if isinstance(value, float):
        return json_float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return json_float(value)
    return value


def tensor_values(tensor):
    kind = tensor.tensor_type
    data = np.asarray(tensor.data)
    if kind == GGMLQuantizationType.BF16:
        bits = data.reshape(-1).view(np.uint16).astype(np.uint32) << 16
        return bits.view(np.float32)
    if kind in (GGMLQuantizationType.F32, GGMLQuantizationType.F16):
        return data.reshape(-1).astype(np.float32)
    return None


def main():
    reader = GGUFReader(sys.argv[1])
    metadata = {}
    for field in reader.fields.values():
        if field.name.startswith('GGUF.'):
            continue
        metadata[field.name] = {
            'types': [GGUFValueType(t).name for t in field.types],
            'value': field_value(field),
        }
    tensors = []
    for tensor in reader.tensors:
        values = tensor_values(tensor)
        tensors.append({
            'name': tensor.name,
            'type': GGMLQuantizationType(tensor.tensor_type).name,
            'dims': [int(d) for d in tensor.shape],
            'values': None if values is None else [json_float(v) for v in values.tolist()],
        })
    print(json.dumps({'version': int(reader.fields['GGUF.version'].contents()), 'alignment': int(reader.alignment),
                      'metadata': metadata, 'tensors': tensors}))


if __name__ == '__main__':
    main()
