// cbor-x's optional native decoder is left out (its platform packages are not on every registry); cbor-x falls back to JavaScript.
throw new Error('cbor-extract is not installed');
