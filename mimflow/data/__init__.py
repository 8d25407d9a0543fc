"""Raw data and dataset builders: checksummed downloads, toy GMMs, image datasets, PCA Fashion-MNIST."""
