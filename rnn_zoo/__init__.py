"""rnn-zoo: build, store, publish and benchmark zoos of trained recurrent networks."""

from rnn_zoo.errors import ZooError
from rnn_zoo.load import ZooWeights, load_weights, load_zoo
from rnn_zoo.lstm import Member, MemberSpec

__version__ = "0.1.0"

__all__ = ["Member", "MemberSpec", "ZooError", "ZooWeights", "load_weights", "load_zoo", "__version__"]
