"""The AV sample generators live in the product (services.av.samples), so `secchain rules test`
builds the same samples as the tests; this module keeps the tests' and benchmarks' import path."""

from services.av.samples import (
    SAMPLES,
    aspx_webshell,
    eicar,
    eicar_tar_gz_in_zip,
    nested_zips,
    php_webshell,
    tar_bytes,
    zip_bytes,
)

__all__ = ["SAMPLES", "aspx_webshell", "eicar", "eicar_tar_gz_in_zip", "nested_zips", "php_webshell", "tar_bytes",
           "zip_bytes"]
