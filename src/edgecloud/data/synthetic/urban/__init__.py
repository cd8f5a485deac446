"""The rendering internals of :mod:`edgecloud.data.synthetic.urban_world`, one job a module.

From the bottom up: :mod:`.config` and :mod:`.classes` (what determines the bytes, the train
ids drawn with), :mod:`.appearance` (colours, city styles), :mod:`.geometry` (camera and
shapes), :mod:`.raster` (exact rasterising into image and label map), :mod:`.shading`
(textures, sky), :mod:`.things` (what the renderer asks of an object); the objects
(:mod:`.people`, :mod:`.two_wheelers`, :mod:`.vehicles`, :mod:`.street_furniture`,
:mod:`.buildings`); the street (:mod:`.street` plans it, :mod:`.roadside`, :mod:`.ground`,
:mod:`.population`, :mod:`.traffic` and :mod:`.junctions` fill it, :mod:`.scene` puts it
together); then :mod:`.render` draws frames and :mod:`.clips` writes the world. The public
entry point stays :mod:`edgecloud.data.synthetic.urban_world`.
"""
