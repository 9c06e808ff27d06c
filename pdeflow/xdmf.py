"""XDMF sidecars: ``<file>.xmf`` lets ParaView open a pdeflow HDF5 file's 2D/3D grid runs and
finite-element runs as time series (the XML points into the HDF5 datasets; nothing is copied).

A 4D grid (a kinetic run's phase space (θ1, θ2, v1, v2)) has no XDMF topology: such runs are left
out of the sidecar; their θ-marginal ρ = ∫ f dv is in the file as ``rho`` (time, theta1, theta2)."""

from __future__ import annotations

import os
from pathlib import Path

import h5py


def write_xdmf(h5_path: Path, f: h5py.File) -> None:
    """Write ``<file>.xmf`` describing every 2D/3D grid run of ``f`` as a time series.

    The density is cell data on a 3DCoRectMesh. XDMF lists axes slowest first (Z, Y, X) and the
    density is stored ``(time, x, y[, z])``, last axis fastest, so ParaView's X axis is pdeflow's
    last axis and its Z axis pdeflow's first: in 3D (X, Y, Z) = (z, y, x); in 2D the grid is a
    slab one cell thick lying in ParaView's X–Y plane at Z ∈ [0, h] (h the smaller cell width),
    with (X, Y) = (y, x). (A 2DCoRectMesh would open in ParaView's Y–Z plane, edge-on in the
    default view.) Origin and spacing are given in the same slowest-first order.
    """
    blocks = []
    for name, g in f.items():
        if isinstance(g, h5py.Group) and "density" in g and "triangles" in g:
            blocks.append(_xdmf_mesh_block(h5_path, name, g))
            continue
        if not isinstance(g, h5py.Group) or "density" not in g or "bounds" not in g.attrs:
            continue
        dens = g["density"]
        if not 3 <= dens.ndim <= 4:  # (time, x, y[, z]): 1D and 4D grids have no XDMF mesh
            continue
        n_frames = min(dens.shape[0], g["time"].shape[0])
        shape = dens.shape[1:]
        bounds = [(float(b[0]), float(b[1])) for b in g.attrs["bounds"]]
        spacing = [(b[1] - b[0]) / n for b, n in zip(bounds, shape, strict=True)]
        origin, steps, cells = [b[0] for b in bounds], list(spacing), list(shape)
        if len(shape) == 2:  # one cell in the slowest (ParaView Z) direction
            origin, steps, cells = [0.0, *origin], [min(spacing), *steps], [1, *cells]
        points = " ".join(str(n + 1) for n in cells)
        cell_dims = " ".join(str(n) for n in cells)
        origin_text = " ".join(repr(v) for v in origin)
        steps_text = " ".join(repr(v) for v in steps)
        stored = " ".join(str(n) for n in shape)
        start = " ".join([str(0)] * len(shape))
        grids = []
        for k, t in enumerate(g["time"][:n_frames]):
            grids.append(f"""      <Grid Name="{name}_{k}" GridType="Uniform">
        <Time Value="{float(t)!r}"/>
        <Topology TopologyType="3DCoRectMesh" Dimensions="{points}"/>
        <Geometry GeometryType="ORIGIN_DXDYDZ">
          <DataItem Dimensions="3" Format="XML">{origin_text}</DataItem>
          <DataItem Dimensions="3" Format="XML">{steps_text}</DataItem>
        </Geometry>
        <Attribute Name="density" AttributeType="Scalar" Center="Cell">
          <DataItem ItemType="HyperSlab" Dimensions="{cell_dims}" Type="HyperSlab">
            <DataItem Dimensions="3 {len(shape) + 1}" Format="XML">{k} {start} 1 {" ".join(["1"] * len(shape))} 1 {stored}</DataItem>
            <DataItem Dimensions="{n_frames} {stored}" Format="HDF">{h5_path.name}:/{name}/density</DataItem>
          </DataItem>
        </Attribute>
      </Grid>""")
        blocks.append(
            f'    <Grid Name="{name}" GridType="Collection" CollectionType="Temporal">\n'
            + "\n".join(grids) + "\n    </Grid>"
        )
    if not blocks:
        return
    text = (
        '<?xml version="1.0" ?>\n<Xdmf Version="3.0">\n  <Domain>\n'
        + "\n".join(blocks) + "\n  </Domain>\n</Xdmf>\n"
    )
    tmp = h5_path.with_suffix(".xmf.tmp")
    tmp.write_text(text)
    os.replace(tmp, h5_path.with_suffix(".xmf"))


# -- unstructured meshes (finite elements) ------------------------------------------------------
# /<run>/nodes (node, xy), /<run>/triangles (triangle, vertex), /<run>/density (time, node); the
# node, xy, triangle and vertex indices are dimension scales, so xarray names every dimension.


def _xdmf_mesh_block(h5_path: Path, name: str, g: h5py.Group) -> str:
    """Temporal collection of a mesh run: Triangle topology, XY geometry, nodal density."""
    n_frames = min(g["density"].shape[0], g["time"].shape[0])
    n_nodes, n_tri = g["nodes"].shape[0], g["triangles"].shape[0]
    h5 = f"{h5_path.name}:/{name}"
    grids = []
    for k, t in enumerate(g["time"][:n_frames]):
        grids.append(f"""      <Grid Name="{name}_{k}" GridType="Uniform">
        <Time Value="{float(t)!r}"/>
        <Topology TopologyType="Triangle" NumberOfElements="{n_tri}">
          <DataItem Dimensions="{n_tri} 3" NumberType="Int" Precision="8" Format="HDF">{h5}/triangles</DataItem>
        </Topology>
        <Geometry GeometryType="XY">
          <DataItem Dimensions="{n_nodes} 2" NumberType="Float" Precision="8" Format="HDF">{h5}/nodes</DataItem>
        </Geometry>
        <Attribute Name="density" AttributeType="Scalar" Center="Node">
          <DataItem ItemType="HyperSlab" Dimensions="{n_nodes}" Type="HyperSlab">
            <DataItem Dimensions="3 2" Format="XML">{k} 0 1 1 1 {n_nodes}</DataItem>
            <DataItem Dimensions="{n_frames} {n_nodes}" Format="HDF">{h5}/density</DataItem>
          </DataItem>
        </Attribute>
      </Grid>""")
    return (f'    <Grid Name="{name}" GridType="Collection" CollectionType="Temporal">\n'
            + "\n".join(grids) + "\n    </Grid>")
