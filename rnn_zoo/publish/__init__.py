"""Publishing a zoo to the Hugging Face Hub: the card's checks and the push."""
