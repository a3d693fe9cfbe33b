"""A tiny PMTiles archive for the base-map tests, written with the ``pmtiles`` package."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import write

TILE_COLOURS = ((222, 235, 247), (198, 219, 239), (158, 202, 225))  # one per zoom


def png_tile(colour: tuple[int, int, int]) -> bytes:
    """A plain 256 x 256 PNG tile."""
    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def write_pmtiles(path: Path, *, max_zoom: int = 2, tile_type: TileType = TileType.PNG
                  ) -> Path:
    """Every tile of zooms 0 to ``max_zoom``, plain PNGs (or bytes of another tile type)."""
    tiles = {}
    for z in range(max_zoom + 1):
        if tile_type == TileType.PNG:
            data = png_tile(TILE_COLOURS[z % len(TILE_COLOURS)])
        else:
            data = b"\x1a\x00"  # not a real vector tile: only the header is ever read
        for x in range(2 ** z):
            for y in range(2 ** z):
                tiles[zxy_to_tileid(z, x, y)] = data
    with write(path) as writer:
        for tile_id in sorted(tiles):
            writer.write_tile(tile_id, tiles[tile_id])
        writer.finalize({"tile_type": tile_type, "tile_compression": Compression.NONE,
                         "min_lon_e7": -1_800_000_000, "min_lat_e7": -850_000_000,
                         "max_lon_e7": 1_800_000_000, "max_lat_e7": 850_000_000,
                         "center_zoom": 0, "center_lon_e7": 0, "center_lat_e7": 0},
                        {"attribution": "test tiles"})
    return path
